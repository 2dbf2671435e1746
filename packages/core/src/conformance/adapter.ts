import type { ExecutionRequest } from '../request.js';
import type { ExecutionResult } from '../result.js';
import type { Executor } from '../executor.js';

/**
 * What a backend tells the conformance suite: where canaries must listen so a
 * control sandbox reaches them, how a control run is made, and how to find what
 * this executor's session left behind.
 */
export interface ConformanceAdapter {
  /** The executor under test; probe runs use `network: 'none'`. */
  readonly executor: Executor;
  readonly canaryNetwork: CanaryNetwork;
  /**
   * Runs the same request where the network is open, to prove the probe can reach
   * its canary. Default: `executor.execute({ ...request, network: 'open' })`.
   * A backend may use another runtime for controls (e.g. runc when the sandboxes run on runsc).
   */
  control?(request: ExecutionRequest): Promise<ExecutionResult>;
  /**
   * Describes every resource this executor's session still holds (processes,
   * temp directories, cgroups, containers, pods); empty when clean. Scoped to the
   * session label, never to the whole machine.
   */
  leftovers(): Promise<string[]>;
  /**
   * An executor of the same backend whose sandboxes all run as one fixed host uid
   * (the setup before per-sandbox uids), used only as the positive control of the
   * shared-resources probes: it shows the probe does starve tenants that share a
   * uid. Closed by the adapter's owner together with `executor`.
   */
  readonly sharedUserControl?: Executor;
  /**
   * Probe id (`R1:ping`) or group (`R1`) → why no control is possible on this
   * backend. Must be rare; shown in the table. Such probes are not run.
   */
  readonly notApplicable?: Readonly<Record<string, string>>;
}

export interface CanaryNetwork {
  /** Address the host canaries bind (e.g. `127.0.0.1`, or `0.0.0.0` for a bridge). */
  readonly bindIPv4: string;
  /** IPv6 bind address, when the backend's sandboxes could reach one. */
  readonly bindIPv6?: string;
  /** Address a control sandbox uses to reach the canaries (e.g. the bridge gateway). */
  readonly reachIPv4: string;
  readonly reachIPv6?: string;
  /**
   * True when an open-network sandbox shares the host's loopback (spawn), so probes
   * aimed at 127.0.0.1 and ::1 are decisive; false for containers and pods.
   */
  readonly sharesHostLoopback: boolean;
  /**
   * Fixed port for the DNS canary (e.g. 53), for a backend that points its
   * sandboxes' system resolver at `reachIPv4`: then a plain `getaddrinfo` of a
   * nonce name reaches the canary and probe D2 is decisive. Without it D2 is
   * `not-applicable` (D1 still sends queries straight to the canary).
   */
  readonly dnsPort?: number;
}
