/**
 * `@cordon/core`: the user's surface. Create an executor, run requests, read
 * results, handle errors. Backend authors build on `@cordon/core/backend`; the
 * conformance suite is `@cordon/core/conformance`.
 */
export type { BackendAvailability, BackendProbe, CordonBackend, RuntimeImageReport } from './backend.js';
export {
  BUILTIN_BACKENDS,
  isBackendInstalled,
  loadBackend,
  packageNameFor,
  registerBackend,
  registeredBackend,
  type BuiltinBackend,
} from './backend-registry.js';
export {
  isWeakEnforcement,
  type BackendCapabilities,
  type EgressCapabilities,
  type LimitEnforcement,
  type NetworkEnforcement,
} from './capabilities.js';
export {
  backendOptionsFromEnv,
  createExecutor,
  detectBackend,
  type CreateExecutorOptions,
  type DetectedBackend,
} from './create-executor.js';
export {
  BackendFailureError,
  BackendUnavailableError,
  CordonError,
  ExecutorClosedError,
  InvalidRequestError,
  IsolationRefusedError,
  type CordonErrorCode,
} from './errors.js';
export type {
  ExecutionEgressEvent,
  ExecutionEndEvent,
  ExecutionStartEvent,
  Executor,
  ExecutorEvents,
  ExecutorOptions,
} from './executor.js';
export { LIMIT_NAMES, type LimitName } from './limits.js';
export { closedNetworkMode, normalizeNetwork, type NetworkPolicy, type NetworkPolicyInput } from './network.js';
export {
  allowPolicyInputSchema,
  cidrRuleFor,
  decideAddress,
  decideName,
  DEFAULT_AUDIT_LIMIT,
  DEFAULT_EGRESS_CAPS,
  DEFAULT_RULE_PORTS,
  DENIED_RANGES,
  deniedRange,
  EgressAuditLog,
  MAX_AUDIT_LIMIT,
  MAX_EGRESS_RULES,
  MIN_CIDR_PREFIX,
  normalizeHostName,
  parseAllowPolicy,
  parseEgressRule,
  parsePortSpec,
  parseResolveOverride,
  type AllowNetworkPolicy,
  type AllowNetworkPolicyInput,
  type EgressAudit,
  type EgressCaps,
  type EgressDecision,
  type EgressPath,
  type EgressRecord,
  type EgressResolveOverride,
  type EgressRule,
  type EgressRuleInput,
  type EgressVerdict,
  type PortRange,
} from './egress/index.js';
export {
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUT_MS,
  LANGUAGES,
  MAX_CODE_BYTES,
  MAX_FILES_BYTES,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  parseExecutionRequest,
  WAIVABLE_GUARANTEES,
  type ExecutionLimits,
  type ExecutionRequest,
  type Language,
  type NormalizedRequest,
  type OutputListener,
  type WaivableGuarantee,
} from './request.js';
export {
  EXECUTION_STATUSES,
  exitCodeFor,
  resultToJson,
  signalNumber,
  type CollectedFile,
  type ExecutionResult,
  type ExecutionStatus,
} from './result.js';

// The backend-author surface, as exported here before `@cordon/core/backend` existed: kept for one release.
export {
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  Admission,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  BaseExecutor,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  checkCollectedFiles,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  collectMatcher,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  DEFAULT_MAX_CONCURRENCY,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  describePath,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  LABELS,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  MANAGED_BY,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  MAX_COLLECT_DEPTH,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  MAX_COLLECTED_FILES,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  newExecutionId,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  normalizeRelativePath,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  OutputCollector,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  parseBackendOptions,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  parseBooleanOption,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  relativePathProblem,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  SANDBOX_UID_RANGE,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  sandboxUidLeases,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  SESSION_ID,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  UidLeases,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type CanaryNetwork,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type CheckedFiles,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type ConformanceAdapter,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type RunContext,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type RunOutcome,
  /** @deprecated since 0.2: import from '@cordon/core/backend'. Removed in the next release. */
  type UidLease,
} from './backend/index.js';
