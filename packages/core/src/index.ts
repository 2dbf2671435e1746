export { Admission } from './backend/admission.js';
export type { BackendProbe, CordonBackend } from './backend.js';
export { parseBackendOptions, parseBooleanOption } from './backend/options.js';
export {
  BUILTIN_BACKENDS,
  isBackendInstalled,
  loadBackend,
  packageNameFor,
  registerBackend,
  registeredBackend,
  type BuiltinBackend,
} from './backend-registry.js';
export { BaseExecutor, DEFAULT_MAX_CONCURRENCY, type RunContext, type RunOutcome } from './backend/base-executor.js';
export {
  checkCollectedFiles,
  collectMatcher,
  describePath,
  MAX_COLLECT_DEPTH,
  MAX_COLLECTED_FILES,
  type CheckedFiles,
} from './backend/collected-files.js';
export {
  isWeakEnforcement,
  type BackendCapabilities,
  type LimitEnforcement,
  type NetworkEnforcement,
} from './capabilities.js';
export type { CanaryNetwork, ConformanceAdapter } from './conformance/adapter.js';
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
export type { ExecutionEndEvent, ExecutionStartEvent, Executor, ExecutorEvents, ExecutorOptions } from './executor.js';
export { LIMIT_NAMES, type LimitName } from './limits.js';
export { normalizeNetwork, type NetworkPolicy, type NetworkPolicyInput } from './network.js';
export { OutputCollector } from './backend/output-collector.js';
export {
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUT_MS,
  LANGUAGES,
  MAX_CODE_BYTES,
  MAX_FILES_BYTES,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  normalizeRelativePath,
  parseExecutionRequest,
  relativePathProblem,
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
export { LABELS, MANAGED_BY, newExecutionId, SESSION_ID } from './backend/session.js';
export { SANDBOX_UID_RANGE, sandboxUidLeases, UidLeases, type UidLease } from './backend/uid-lease.js';
