import type { LimitName } from './limits.js';
import type { Language } from './request.js';

/**
 * How a backend keeps code off the network. `kernel`: a separate network stack
 * (namespace, container, pod behind NetworkPolicy) that code cannot leave.
 * `advisory`: only in-process patching, which determined code can bypass.
 */
export type NetworkEnforcement = 'kernel' | 'advisory';

/**
 * How one limit is enforced. `cgroup`/`container`/`pod`: by the kernel through the
 * runtime. `rlimit`: per process, weaker (cannot report `oom`). `tmpfs`: a sized
 * filesystem. `streaming`: counted by the host as output arrives. `node-wide`: by
 * the node, not per sandbox. `none`: not enforced.
 */
export type LimitEnforcement = 'cgroup' | 'container' | 'pod' | 'rlimit' | 'tmpfs' | 'streaming' | 'node-wide' | 'none';

export interface BackendCapabilities {
  name: string;
  languages: readonly Language[];
  network: NetworkEnforcement;
  limits: Readonly<Record<LimitName, LimitEnforcement>>;
  /** Free-text facts worth showing in `cordon doctor` (runtime, versions, isolation layers). */
  notes?: readonly string[];
}

/** Enforcements weak enough that a caller must accept them explicitly. */
export function isWeakEnforcement(limit: LimitName, enforcement: LimitEnforcement): boolean {
  if (enforcement === 'none') return true;
  // A memory rlimit is per process (not the sandbox's total) and cannot report `oom`.
  if (limit === 'memoryBytes' && enforcement === 'rlimit') return true;
  return false;
}
