import type { EgressPath } from './egress/audit.js';
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
  /** How the backend enforces an egress allow-list; absent: it cannot (mode 'allow' is refused). */
  egress?: EgressCapabilities;
  /** Free-text facts worth showing in `cordon doctor` (runtime, versions, isolation layers). */
  notes?: readonly string[];
}

/** What a backend that enforces egress allow-lists says about how. */
export interface EgressCapabilities {
  /**
   * Which connections that ignore the proxy settings still reach the broker:
   * `all-tcp` every TCP connection, `listed-ports` only those to ports some rule
   * names, `proxy-only` none (they fail inside the sandbox).
   */
  readonly capture: 'all-tcp' | 'listed-ports' | 'proxy-only';
  /** The paths whose attempts appear in the audit. */
  readonly observes: readonly EgressPath[];
  /** Whether under network 'none' DNS queries reach the broker (and are audited, all denied). */
  readonly dnsUnderNone: boolean;
  readonly notes?: readonly string[];
}

/** Enforcements weak enough that a caller must accept them explicitly. */
export function isWeakEnforcement(limit: LimitName, enforcement: LimitEnforcement): boolean {
  if (enforcement === 'none') return true;
  // A memory rlimit is per process (not the sandbox's total) and cannot report `oom`.
  if (limit === 'memoryBytes' && enforcement === 'rlimit') return true;
  return false;
}
