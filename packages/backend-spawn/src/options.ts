import { booleanOption, listOption, parseBackendOptions } from '@cordon/core/backend';
import { z } from 'zod';
import { LAUNCHER_CHOICES, type LauncherChoice } from './launcher.js';
import type { SandboxIdChoice } from './sandbox-user.js';

/** `auto`: kernel isolation where this host allows it, else advisory. */
export const ISOLATION_CHOICES = ['auto', 'kernel', 'advisory'] as const;
export type IsolationChoice = (typeof ISOLATION_CHOICES)[number];

/** @deprecated since 0.2: use `ISOLATION_CHOICES`. Removed in the next release. */
export const TIERS = ISOLATION_CHOICES;
/** @deprecated since 0.2: use `IsolationChoice`. Removed in the next release. */
export type TierChoice = IsolationChoice;

/**
 * Options of the spawn backend; each is also read from `--option key=value` and
 * `CORDON_SPAWN_<KEY>` (see README), strings coerced. `parseSpawnOptions` validates them.
 */
export interface SpawnOptions {
  /** Executions running at once. @default 4 */
  maxConcurrency?: number;
  /** `kernel` refuses to start without namespaces; `advisory` forces the patching-only isolation (tests). @default 'auto' */
  isolation?: IsolationChoice;
  /** @deprecated since 0.2: use `isolation` (the same values). Removed in the next release. */
  tier?: IsolationChoice;
  /** Accept advisory isolation's network enforcement for every run (adds `network` to each request's `acceptUnenforced`). @default false */
  allowAdvisoryIsolation?: boolean;
  /**
   * Absolute read-only directories the code may import from (a `node_modules`, a Python
   * site-packages); on NODE_PATH and PYTHONPATH. A string is split on `,` and `:`. @default []
   */
  packageDirs?: readonly string[] | string;
  /**
   * Who the sandbox runs as when the host process is root: `per-sandbox`, a host uid of
   * its own for each sandbox (leased machine-wide from core's SANDBOX_UID_RANGE), so no two
   * tenants share per-user kernel limits; or one fixed uid for all (the old shared setup).
   * A `per-sandbox` gid is the sandbox's uid. Ignored when not root. @default 'per-sandbox'
   */
  sandboxUid?: SandboxIdChoice;
  /** The gid to `sandboxUid`'s uid: `per-sandbox`, the sandbox's uid; or one fixed gid for all. Ignored when not root. @default 'per-sandbox' */
  sandboxGid?: SandboxIdChoice;
  /** Node.js binary offered to `node` code. @default process.execPath */
  nodePath?: string;
  /** Python binary offered to `python` code. @default the first of /usr/bin/python3, /usr/local/bin/python3 */
  pythonPath?: string;
  /** Kernel-isolated sandboxes started ahead, each used once, for network-none runs with the default limits. @default 0 */
  poolSize?: number;
  /**
   * What starts kernel-isolated sandboxes: `bubblewrap`, cordon's `perl` launcher (perl-base
   * only, for hosts without bubblewrap), or `auto`, bubblewrap where it is installed and works,
   * else perl. Either builds the same sandbox. @default 'auto'
   */
  launcher?: LauncherChoice;
  /** bubblewrap binary. @default the first `bwrap` on /usr/bin, /bin, /usr/sbin, /sbin, /usr/local/bin */
  bwrapPath?: string;
  /** A file mounted as the kernel isolation's /etc/resolv.conf, for both network modes. @default the host's, for network 'open' only */
  resolvConf?: string;
}

const numberOption = z.coerce.number().int();

const sandboxIdOption = z.union([z.literal('per-sandbox'), numberOption.min(1).max(2 ** 31 - 1)]);

const absolutePath = z.string().refine((path) => path.startsWith('/'), 'must be an absolute path');

/** The schema behind `SpawnOptions` (a type test keeps the two in step). */
export const spawnOptionsSchema = z
  .strictObject({
    maxConcurrency: numberOption.min(1).optional(),
    isolation: z.enum(ISOLATION_CHOICES).optional(),
    tier: z.enum(ISOLATION_CHOICES).optional(),
    allowAdvisoryIsolation: booleanOption(false),
    /** `a,b` or `a:b` from CLI/env, or an array from code. */
    packageDirs: listOption(
      z
        .string()
        .min(1)
        .refine((path) => path.startsWith('/'), 'must be an absolute path'),
      { separators: [',', ':'] },
    ).default([]),
    sandboxUid: sandboxIdOption.default('per-sandbox'),
    sandboxGid: sandboxIdOption.default('per-sandbox'),
    nodePath: absolutePath.optional(),
    pythonPath: absolutePath.optional(),
    launcher: z.enum(LAUNCHER_CHOICES).default('auto'),
    bwrapPath: absolutePath.optional(),
    poolSize: numberOption.min(0).max(64).default(0),
    resolvConf: absolutePath.optional(),
  })
  .refine(
    (options) => options.isolation === undefined || options.tier === undefined || options.isolation === options.tier,
    {
      path: ['tier'],
      message: 'is the deprecated name of isolation and disagrees with it; give isolation only',
    },
  )
  // The deprecated alias is folded in, so the rest of the backend reads one field.
  .transform(({ tier, isolation, ...rest }) => ({ ...rest, isolation: isolation ?? tier ?? 'auto' }));

/** The spawn backend's options after validation, defaults applied (`tier` folded into `isolation`). */
export type ParsedSpawnOptions = z.output<typeof spawnOptionsSchema>;

/** @throws InvalidRequestError naming `options.<key>`. */
export function parseSpawnOptions(options: SpawnOptions | Record<string, unknown>): ParsedSpawnOptions {
  return parseBackendOptions(spawnOptionsSchema, options as Record<string, unknown>);
}

/** @deprecated since 0.2: use `SpawnOptions`. Removed in the next release. */
export type SpawnExecutorOptions = SpawnOptions;
