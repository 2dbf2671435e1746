import type { CanaryNetwork } from '../../adapter.js';
import type { CanaryEndpoints } from '../../types.js';
import type { Language } from '../../../request.js';

export interface ProbeApplicability {
  readonly endpoints: CanaryEndpoints;
  readonly network: CanaryNetwork;
  /** Why the ICMP canary is not running, if it is not. */
  readonly icmpUnavailable: string | undefined;
}

/**
 * One way out of the sandbox, in one runtime. The same code runs as the probe
 * (network `none`) and as its positive control (network open), each with its own
 * nonce; the verdict comes from the canaries' log, or, for `judge: 'output'`,
 * from the probe's own `reached` report.
 */
export interface NetworkProbe {
  /** `<group>:<variant>`, e.g. `N2:net.connect`. */
  readonly id: string;
  /** The escape-probes.md id (N1..N11, P1, S1, R1, V6, D1, D2, L1, NL1, E1, PT1), or one added here: N8 (worker threads), U1/U2 (host Unix sockets, path and abstract), U3 (container daemon sockets). */
  readonly group: string;
  readonly title: string;
  readonly language: Language;
  /** Programs the probe checks for inside the sandbox first. */
  readonly requiresTools?: readonly string[];
  /**
   * Advisory isolation (in-process patching of Node's modules) claims to stop this
   * one, so a leak there is a `LEAK`; every other leak under advisory isolation is
   * `not-enforced`.
   */
  readonly patchable?: boolean;
  /** `canary` (default): the nonce must show up in a canary's log. `output`: the probe reports `reached` itself. */
  readonly judge?: 'canary' | 'output';
  /**
   * Where the positive control runs. `sandbox` (default): the adapter's control
   * (network open). `host`: the built-in host runner, for targets no sandbox can
   * see even with its network open (host Unix sockets). `none`: there is no
   * network-open equivalent (changing interfaces, tracing host processes); the
   * suite's self-test on an unisolated executor is what proves the probe can
   * report a leak.
   */
  readonly controlOn?: 'sandbox' | 'host' | 'none';
  /** A reason this probe cannot be made decisive here, or undefined. */
  notApplicable?(context: ProbeApplicability): string | undefined;
  /** Run the probe even when not applicable: its target exists, so a leak is still decisive. */
  readonly runWhenNotApplicable?: boolean;
  code(endpoints: CanaryEndpoints, nonce: string): string;
  /** Files the probe needs in its working directory (built once on the host), or why they cannot be made (⇒ `not-applicable`). */
  files?(): Promise<{ files: Record<string, Uint8Array> } | { unavailable: string }>;
}

export function needsIPv6(context: ProbeApplicability): string | undefined {
  return context.endpoints.tcp6
    ? undefined
    : 'the adapter declares no IPv6 path to the canaries (canaryNetwork.bindIPv6 unset), so no control can reach one';
}

export function needsHostLoopback(context: ProbeApplicability): string | undefined {
  return context.network.sharesHostLoopback
    ? undefined
    : "this backend's sandboxes have their own loopback, so even an open-network control cannot reach the host's 127.0.0.1/::1 (a leak would still be reported)";
}

export function needsHostLoopback6(context: ProbeApplicability): string | undefined {
  return (
    needsHostLoopback(context) ?? (context.endpoints.loopbackTcp6 ? undefined : 'the host has no ::1 to listen on')
  );
}
