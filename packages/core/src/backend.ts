import type { NetworkEnforcement } from './capabilities.js';
import type { ConformanceAdapter } from './conformance/adapter.js';
import type { Executor } from './executor.js';

/** What a backend's `availability()` says about this machine: can it run here, and if not, what to do. */
export interface BackendAvailability {
  usable: boolean;
  /** Why it is not usable, or what it will use (e.g. "bubblewrap 0.8.0, cgroup v1"). */
  detail: string;
  /** What to install or start when not usable. */
  remedy?: string;
  network?: NetworkEnforcement;
  /** The runtime image the backend runs, as far as this check could see it (docker, k8s). */
  image?: RuntimeImageReport;
}

/** A backend's runtime image as `availability()` found it; `cordon doctor` shows it. */
export interface RuntimeImageReport {
  /** The reference the backend runs (its image option). */
  ref: string;
  /** Whether the image is there; `unknown` where this process cannot look (a cluster's nodes). */
  present: boolean | 'unknown';
  /** The image's `dev.cordon.runtime-version` label. */
  runtimeVersion?: string;
  /** The image's `dev.cordon.runner-protocol` label. */
  runnerProtocol?: string;
  /** The runner protocol the installed backend speaks. */
  expectedProtocol: string;
}

/** @deprecated Renamed `BackendAvailability` ("probe" names the conformance suite's escape attempts only). */
export type BackendProbe = BackendAvailability;

/**
 * The module shape a backend package exports, as `backend` or as its default
 * export. Third-party backends implement exactly this:
 *
 * ```ts
 * export const backend: CordonBackend = {
 *   name: 'firecracker',
 *   create: (options) => FirecrackerExecutor.create(options),
 *   availability: async () => ({ usable: true, detail: 'firecracker 1.7' }),
 *   conformance: (executor) => ({ executor, canaryNetwork: { ... }, leftovers: async () => [] }),
 * };
 * ```
 */
export interface CordonBackend {
  /** Short name used by `backend:` and `CORDON_BACKEND`, and for `CORDON_<NAME>_<KEY>` options. */
  readonly name: string;
  /**
   * Creates an executor. `options` come from code, from `--option KEY=VALUE` (strings)
   * and from `CORDON_<NAME>_<KEY>` variables; validate them and throw
   * `InvalidRequestError` naming `options.<key>`.
   */
  create(options: Record<string, unknown>): Promise<Executor>;
  /** Cheap check for auto-selection and `cordon doctor`; must not throw. */
  availability(options?: Record<string, unknown>): Promise<BackendAvailability>;
  /**
   * @deprecated The old name of `availability()`. A module that has only `probe()` still
   * loads (the registry adapts it) for one release.
   */
  probe?(options?: Record<string, unknown>): Promise<BackendAvailability>;
  /** How the conformance suite reaches this backend's sandboxes and makes control runs. */
  conformance(executor: Executor, options: Record<string, unknown>): Promise<ConformanceAdapter>;
}
