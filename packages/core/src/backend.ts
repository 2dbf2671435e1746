import type { NetworkEnforcement } from './capabilities.js';
import type { ConformanceAdapter } from './conformance/adapter.js';
import type { Executor } from './executor.js';

/** What a backend's `probe()` says about this machine. */
export interface BackendProbe {
  usable: boolean;
  /** Why it is not usable, or what it will use (e.g. "bubblewrap 0.8.0, cgroup v1"). */
  detail: string;
  /** What to install or start when not usable. */
  remedy?: string;
  network?: NetworkEnforcement;
}

/**
 * The module shape a backend package exports, as `backend` or as its default
 * export. Third-party backends implement exactly this:
 *
 * ```ts
 * export const backend: CordonBackend = {
 *   name: 'firecracker',
 *   create: (options) => FirecrackerExecutor.create(options),
 *   probe: async () => ({ usable: true, detail: 'firecracker 1.7' }),
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
  probe(options?: Record<string, unknown>): Promise<BackendProbe>;
  /** How the conformance suite reaches this backend's sandboxes and makes control runs. */
  conformance(executor: Executor, options: Record<string, unknown>): Promise<ConformanceAdapter>;
}
