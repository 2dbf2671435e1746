import { parseBackendOptions, parseBooleanOption } from '@cordon/core/backend';
import { z } from 'zod';
import type { SandboxIdChoice } from './sandbox-user.js';

/** `auto`: kernel isolation where this host allows it, else advisory. */
export const TIERS = ['auto', 'kernel', 'advisory'] as const;
export type TierChoice = (typeof TIERS)[number];

/** Options of the spawn backend; each is also read from `CORDON_SPAWN_<KEY>` (see README). */
export interface SpawnExecutorOptions {
  /** Executions running at once. @default 4 */
  maxConcurrency?: number;
  /** `kernel` refuses to start without namespaces; `advisory` forces the patching-only tier (tests). @default 'auto' */
  tier?: TierChoice;
  /** Accept the advisory tier's network isolation for every run (adds `network` to each request's `acceptUnenforced`). @default false */
  allowAdvisoryIsolation?: boolean;
  /** Read-only directories the code may import from (a `node_modules`, a Python site-packages); on NODE_PATH and PYTHONPATH. */
  packageDirs?: readonly string[] | string;
  /**
   * Who the sandbox runs as when the host process is root: `per-sandbox`, a host uid of
   * its own for each sandbox (leased machine-wide from core's SANDBOX_UID_RANGE), so no two
   * tenants share per-user kernel limits; or one fixed uid for all (the old shared setup).
   * A `per-sandbox` gid is the sandbox's uid. Ignored when not root. @default 'per-sandbox'
   */
  sandboxUid?: SandboxIdChoice;
  sandboxGid?: SandboxIdChoice;
  /** Node.js binary offered to `node` code. @default process.execPath */
  nodePath?: string;
  /** Python binary offered to `python` code. @default the first of /usr/bin/python3, /usr/local/bin/python3 */
  pythonPath?: string;
  /** Kernel-tier sandboxes started ahead, each used once, for network-none runs with the default limits. @default 0 */
  poolSize?: number;
  /** bubblewrap binary. @default the first `bwrap` on /usr/bin, /usr/local/bin, /bin */
  bwrapPath?: string;
  /** A file mounted as the kernel tier's /etc/resolv.conf, for both network modes. @default the host's, for network 'open' only */
  resolvConf?: string;
}

const numberOption = z.coerce.number().int();

const sandboxIdOption = z.union([z.literal('per-sandbox'), numberOption.min(1).max(2 ** 31 - 1)]);

/** `a,b` or `a:b` from CLI/env, or an array from code. */
const pathListOption = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(/[,:]/)
          .map((part) => part.trim())
          .filter(Boolean)
      : value,
  z.array(
    z
      .string()
      .min(1)
      .refine((path) => path.startsWith('/'), 'must be an absolute path'),
  ),
);

const absolutePath = z.string().refine((path) => path.startsWith('/'), 'must be an absolute path');

const optionsSchema = z.strictObject({
  maxConcurrency: numberOption.min(1).optional(),
  tier: z.enum(TIERS).default('auto'),
  allowAdvisoryIsolation: z.preprocess(parseBooleanOption, z.boolean()).default(false),
  packageDirs: pathListOption.default([]),
  sandboxUid: sandboxIdOption.default('per-sandbox'),
  sandboxGid: sandboxIdOption.default('per-sandbox'),
  nodePath: absolutePath.optional(),
  pythonPath: absolutePath.optional(),
  bwrapPath: absolutePath.optional(),
  poolSize: numberOption.min(0).max(64).default(0),
  resolvConf: absolutePath.optional(),
});

export type ParsedSpawnOptions = z.output<typeof optionsSchema>;

/** @throws InvalidRequestError naming `options.<key>`. */
export function parseSpawnOptions(options: Record<string, unknown>): ParsedSpawnOptions {
  return parseBackendOptions(optionsSchema, options);
}
