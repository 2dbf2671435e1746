/**
 * `@cordon/core/conformance`: the suite that proves a backend holds. Canaries on
 * the host, every escape probe with a positive control, the non-network
 * properties, and the report. See `runConformance`, and
 * `@cordon/core/conformance/vitest` for the one-call test-file adapter.
 */
export type { CanaryNetwork, ConformanceAdapter } from './conformance-adapter.js';
export { runConformance, PLANTED_SECRET_NAME } from './conformance-runner.js';
export { conformanceExitCode, conformanceToJson, formatConformanceTable, summarize, type TableOptions } from './conformance-report.js';
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
} from './conformance-types.js';
export { networkVerdict, propertyVerdict, type NetworkObservation, type PropertyObservation, type SideObservation, type VerdictWithReason } from './conformance-verdict.js';
export { NETWORK_PROBES } from './conformance-network.js';
export { PROPERTY_PROBES } from './probe-properties.js';
export type { NetworkProbe, ProbeApplicability } from './probe-network.js';
export type { PropertyOutcome, PropertyProbe } from './probe-property.js';
export { parseProbeOutput, normalizeErrorCode, type ProbeOutput } from './probe-output.js';
export { CanarySet, CANARY_DNS_ZONE } from './canary-set.js';
export { CanaryLog, type CanaryHit } from './canary-log.js';
export { runOnHost, type HostRunResult } from './conformance-host-runner.js';
export { findHostProcesses, type HostProcess } from './conformance-host-processes.js';
export { SuiteContext, type PlantedSecret, type RunOutput } from './conformance-context.js';
