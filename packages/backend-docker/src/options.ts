import { LANGUAGES, type Language } from '@cordon/core';
import { listOption, parseBackendOptions } from '@cordon/core/backend';
import { z } from 'zod';
import { DEFAULT_IMAGE } from './runtime-image.js';

/** The schema behind `DockerOptions` (a type test keeps the two in step). */
export const dockerOptionsSchema = z.strictObject({
  image: z.string().min(1).default(DEFAULT_IMAGE),
  runtime: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be an OCI runtime name known to dockerd, e.g. runsc')
    .optional(),
  poolSize: z.coerce.number().int().min(0).max(64).default(2),
  poolLanguages: listOption(z.enum(LANGUAGES)).default([...LANGUAGES]),
  maxConcurrency: z.coerce.number().int().min(1).max(1024).optional(),
  dockerHost: z
    .string()
    .regex(/^(unix|tcp|http|https):\/\//, 'must look like unix:///var/run/docker.sock or tcp://host:2375')
    .optional(),
  apiTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(15_000),
  openNetwork: z.string().min(1).default('bridge'),
  dns: listOption(z.union([z.ipv4(), z.ipv6()])).optional(),
  controlRuntime: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .default('runc'),
  sandboxUid: z
    .union([
      z.literal('per-sandbox'),
      z.coerce
        .number()
        .int()
        .min(1, 'must be a non-root uid')
        .max(2 ** 31 - 1),
    ])
    .default('per-sandbox'),
});

/**
 * Options of the docker backend; each is also read from `--option key=value` and
 * `CORDON_DOCKER_<KEY>` (see README), strings coerced. `parseDockerOptions` validates them.
 */
export interface DockerOptions {
  /** Runtime image (see images/runtime). @default `cordon-runtime:<version>` */
  image?: string;
  /** OCI runtime name configured in dockerd, e.g. `runsc` for gVisor. @default the daemon's default (runc) */
  runtime?: string;
  /** Pre-booted containers kept ready per runner (node, which also serves bash; python). 0 disables the pool. @default 2 */
  poolSize?: number;
  /** Languages whose runner is kept warm; a string is split on commas. @default ['node', 'python', 'bash'] */
  poolLanguages?: readonly Language[] | string;
  /** Executions running at once. @default 4 */
  maxConcurrency?: number;
  /** Daemon address. @default DOCKER_HOST, else unix:///var/run/docker.sock */
  dockerHost?: string;
  /** Limit on each Docker API call (not on the program, see `timeoutMs`). @default 15000 */
  apiTimeoutMs?: number;
  /** Docker network for requests with `network: 'open'`. @default 'bridge' */
  openNetwork?: string;
  /** IPv4/IPv6 resolvers written to the containers' /etc/resolv.conf (only reachable with `network: 'open'`); a string is split on commas. @default the daemon's choice */
  dns?: readonly string[] | string;
  /** Runtime for the conformance suite's control runs when `runtime` is not runc. @default 'runc' */
  controlRuntime?: string;
  /**
   * The host uid programs run under. `per-sandbox`: a uid of its own for every
   * container (machine-wide unique, see `sandboxUidLeases`), so no two tenants share
   * the kernel's per-user limits (inotify instances, message-queue bytes, pipe pages,
   * pending signals). A number: that uid for every container (the image's user is
   * 10001), the setup before per-sandbox uids. @default 'per-sandbox'
   */
  sandboxUid?: 'per-sandbox' | number;
}

/** The docker backend's options after validation, defaults applied. */
export type ParsedDockerOptions = z.output<typeof dockerOptionsSchema>;

/** @throws InvalidRequestError naming `options.<key>`. */
export function parseDockerOptions(options: DockerOptions | Record<string, unknown>): ParsedDockerOptions {
  return parseBackendOptions(dockerOptionsSchema, options as Record<string, unknown>);
}

/** @deprecated since 0.2: use `DockerOptions`. Removed in the next release. */
export type DockerBackendOptions = DockerOptions;
/** @deprecated since 0.2: use `ParsedDockerOptions`. Removed in the next release. */
export type ResolvedDockerOptions = ParsedDockerOptions;
/** @deprecated since 0.2: use `parseDockerOptions`. Removed in the next release. */
export const resolveDockerOptions = parseDockerOptions;
