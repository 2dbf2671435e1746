/**
 * `@cordon/core/conformance`: the suite that proves a backend holds.
 *
 * - Canaries on the host for the run (TCP/HTTP speaking enough HTTP/1.1, HTTP/2
 *   and TLS-ClientHello for clients to deliver a payload; UDP; DNS on UDP and TCP
 *   answering A; a Unix socket at a path and an abstract one; ICMP when root; a
 *   host process), bound where `adapter.canaryNetwork` says.
 * - Network probes (escape-probes.md N1..PT1, plus U1/U2 for Unix sockets), each
 *   in node, python and bash where it makes sense. Each runs twice with its own
 *   nonce: as the probe (network `none`) and as its positive control (network
 *   open, through `adapter.control` or the executor). The verdict comes from the
 *   canaries' log, never an exit code; see `networkVerdict` for the rules.
 *   Unix socket controls run on the host itself (`runOnHost`): a working sandbox
 *   never sees the host path, even with its network open.
 * - Property checks (env secrets, host files, writes, /tmp, privileges, PID
 *   isolation, fork bomb, memory, timeout of a whole tree, output cap, exit codes
 *   and signals, no state between runs, leftovers); see `propertyVerdict`.
 * - The result channel and the shared kernel: result integrity, collection
 *   confinement (against a planted host canary), host memory (this process's
 *   RSS), shared resources (two sandboxes at once; controls on
 *   `adapter.sharedUserControl` or two host processes as one throwaway uid),
 *   host identifiers.
 * - One `collectFiles` behaviour: `COLLECT_FILES_CASES`, a table every backend runs
 *   (`runCollectFilesCase` on an executor returns where it differs; the vitest
 *   subpath's `describeCollectFilesCases` declares one test per case).
 * - `formatConformanceTable`, `conformanceToJson`, `conformanceExitCode`.
 *
 * While it runs, this process's env carries `PLANTED_SECRET_NAME`, and fake keys
 * sit under the real HOME and the temp dir; everything is removed at the end.
 * Host-side process checks read this machine's /proc, so they see sandboxes that
 * share this kernel (spawn, docker with runc); remote sandboxes (k8s) are covered
 * by `adapter.leftovers()`.
 */
export type { CanaryNetwork, ConformanceAdapter } from './adapter.js';
export { runConformance, PLANTED_SECRET_NAME } from './suite.js';
export {
  COLLECT_FILES_CASES,
  collectFilesCaseRequest,
  collectFilesMismatches,
  runCollectFilesCase,
  type CollectFilesCase,
  type CollectFilesCaseOptions,
} from './collect-files-cases.js';
export {
  conformanceExitCode,
  conformanceToJson,
  formatConformanceTable,
  summarize,
  type TableOptions,
} from './report.js';
export {
  FAILING_VERDICTS,
  VERDICTS,
  type CanaryEndpoints,
  type ConformanceKind,
  type ConformanceProgress,
  type ConformanceReport,
  type ConformanceResult,
  type ConformanceSummary,
  type HostPort,
  type RunConformanceOptions,
  type RunRecord,
  type Verdict,
} from './types.js';
export {
  networkVerdict,
  propertyVerdict,
  type NetworkObservation,
  type PropertyObservation,
  type SideObservation,
  type VerdictWithReason,
} from './verdict.js';
export { NETWORK_PROBES } from './probes/network/index.js';
export { EGRESS_CHECK_IDS, EGRESS_ZONE } from './probes/egress/index.js';
export { PROPERTY_PROBES } from './probes/properties/index.js';
export type { NetworkProbe, ProbeApplicability } from './probes/network/probe.js';
export type { PropertyOutcome, PropertyProbe } from './probes/properties/probe.js';
export { parseProbeOutput, normalizeErrorCode, type ProbeOutput } from './probes/output.js';
export { CanarySet, CANARY_DNS_ZONE } from './canaries/set.js';
export { CanaryLog, type CanaryHit } from './canaries/log.js';
export { runOnHost, type HostRunResult } from './on-host.js';
export { findHostProcesses, type HostProcess } from './host-processes.js';
export { SuiteContext, type PlantedSecret, type RunOutput } from './context.js';
