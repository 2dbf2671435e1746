import type { NetworkEnforcement } from '../capabilities.js';
import type { Language } from '../request.js';
import type { ExecutionStatus } from '../result.js';

/**
 * One probe's verdict.
 * Network probes: `blocked` (the control delivered its nonce, the probe did not),
 * `LEAK` (the probe delivered its nonce), `invalid` (the control failed to deliver,
 * a tool was missing, or the probe could not run), `not-enforced` (the probe
 * reached out under advisory isolation, by a path patching cannot stop),
 * `not-applicable` (no control is possible here; the reason is in `detail`).
 * Properties: `holds` or `FAILS`, and `invalid`, `not-enforced` (the backend
 * declares the limit weak), `not-applicable` as above.
 */
export const VERDICTS = ['blocked', 'holds', 'not-applicable', 'LEAK', 'FAILS', 'invalid', 'not-enforced'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Verdicts that make `cordon conformance` (and `conformanceExitCode`) fail. */
export const FAILING_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>(['LEAK', 'FAILS', 'invalid', 'not-enforced']);

export type ConformanceKind = 'network' | 'property';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Where the canaries listen, as probe code addresses them. */
export interface CanaryEndpoints {
  /** TCP/HTTP canary at `reachIPv4`. Also speaks enough HTTP/1.1 and HTTP/2 for clients to send a body. */
  readonly tcp: HostPort;
  readonly tcp6?: HostPort;
  readonly udp: HostPort;
  readonly udp6?: HostPort;
  /** DNS responder, UDP and TCP on the same port; answers A with `reachIPv4`. */
  readonly dns: HostPort;
  readonly dns6?: HostPort;
  /** TCP canaries on the host's own 127.0.0.1 and ::1 (L1 probes). */
  readonly loopbackTcp: HostPort;
  readonly loopbackTcp6?: HostPort;
  /** Unix socket canary at a host file path (in a temp dir). */
  readonly unixPath: string;
  /** Abstract Unix socket canary name, without the leading NUL. */
  readonly abstractName: string;
  /** Names under this zone are answered by the DNS canary. */
  readonly dnsZone: string;
  /** The ICMP canary is listening (needs CAP_NET_RAW on the host). */
  readonly icmp: boolean;
  /** A host process the sandbox must not see, signal or trace. */
  readonly hostPid: number;
}

/** What one execution (probe or control) did, as shown in the report. */
export interface RunRecord {
  /** `sandbox`: the executor under test; `control`: the adapter's control; `host`: the built-in host runner. */
  readonly where: 'sandbox' | 'control' | 'host';
  readonly nonce?: string;
  readonly status: ExecutionStatus | 'threw';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** The canary (or the probe's own output, for output-judged probes) saw the nonce. */
  readonly delivered?: boolean;
  /** Where the nonce arrived, e.g. `tcp 127.0.0.1:41234`. */
  readonly deliveredTo?: string[];
  /** Structured steps the probe printed: `step: ok` or `step: CODE`. */
  readonly steps: string[];
  readonly missingTools: string[];
  /** The probe reported the vector does not exist in this runtime (e.g. no global WebSocket). */
  readonly unsupported?: string;
  /** The execution threw (refused, backend failure): its message. */
  readonly error?: string;
  /** Last part of stderr, for debugging invalid probes. */
  readonly stderrTail?: string;
}

export interface ConformanceResult {
  /** e.g. `N2:net.connect`, `P1:tcp`, `env-secrets:node`. */
  readonly id: string;
  /** Group from escape-probes.md (`N2`, `S1`...) or the property name. */
  readonly group: string;
  readonly kind: ConformanceKind;
  readonly title: string;
  /** The runtime the probe is written in; `host` for checks made on the host alone. */
  readonly language: Language | 'host';
  readonly verdict: Verdict;
  /** Why: which layer blocked (error codes seen inside), or what leaked, or why not applicable. */
  readonly detail: string;
  /**
   * For a property check with a positive control: whether the control worked.
   * A `FAILS` does not depend on it, so it is reported on its own (the suite's
   * self-test asserts every control works even where every property fails).
   */
  readonly controlOk?: boolean;
  readonly probe?: RunRecord;
  readonly control?: RunRecord;
}

export interface ConformanceSummary {
  readonly total: number;
  readonly counts: Readonly<Partial<Record<Verdict, number>>>;
  /** True when no result has a failing verdict. */
  readonly passed: boolean;
}

export interface ConformanceReport {
  readonly backend: string;
  /** How the backend enforces the network (`kernel`, or `advisory` patching). */
  readonly networkEnforcement: NetworkEnforcement;
  /** @deprecated The old name of `networkEnforcement` (the suite still sets it). */
  readonly tier?: NetworkEnforcement;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly results: readonly ConformanceResult[];
  readonly summary: ConformanceSummary;
}

/**
 * Progress while the suite runs: one event when a check starts (no `verdict`),
 * and one per result (with `verdict` and `result`). `done` counts finished checks.
 */
export interface ConformanceProgress {
  readonly id: string;
  readonly done: number;
  readonly total: number;
  readonly verdict?: Verdict;
  readonly result?: ConformanceResult;
}

export interface RunConformanceOptions {
  onProgress?: (event: ConformanceProgress) => void;
  signal?: AbortSignal;
  /** Probe ids or groups to run (`N2`, `N2:net.connect`, `env-secrets`); default all. */
  only?: readonly string[];
  /** Probes run at once. @default 2 */
  concurrency?: number;
}
