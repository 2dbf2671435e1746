/**
 * `@cordon/core/backend`: what a backend package builds on. Users never need it;
 * their surface is `@cordon/core`.
 *
 * - `BaseExecutor`: subclass it and implement `run(context)`; validation, refusal
 *   of unenforced guarantees, admission, timeout, abort, output capping and events
 *   are done for it (with `Admission` and `OutputCollector`).
 * - Owner labels and ids (`LABELS`, `MANAGED_BY`, `OWNER_ID`, `newExecutionId`)
 *   for what the backend creates, so leftovers can be found and reaped.
 * - Sandbox uids (`UidLeases`, `sandboxUidLeases`), checks of collected files,
 *   backend option parsing (`parseBackendOptions` and the CLI/env-friendly
 *   `booleanOption`, `listOption`, `mapOption`), protocol 3 of the runtime image's runner, and the
 *   runtime image's facts (version, working directory, uid, supervisor command).
 * - The debug channel (`debug`, `ignored`): `NODE_DEBUG=cordon` lines for swallowed errors.
 * - `WarmPool`: started sandboxes waiting for one request each (fits, max age, backoff, close).
 * - `ConformanceAdapter`: what `CordonBackend.conformance()` returns.
 */
export { Admission } from './admission.js';
export { BaseExecutor, DEFAULT_MAX_CONCURRENCY, type RunContext, type RunOutcome } from './base-executor.js';
export {
  byPath,
  checkCollectedFiles,
  collectMatcher,
  CollectionCaps,
  collectWarning,
  CollectWarnings,
  describePath,
  MAX_COLLECT_DEPTH,
  MAX_COLLECT_ENTRIES,
  MAX_COLLECT_LISTING_BYTES,
  MAX_COLLECT_WARNINGS,
  MAX_COLLECTED_FILES,
  MAX_COLLECTED_PATH_BYTES,
  patternForms,
  type CheckedFiles,
} from './collected-files.js';
export {
  debug,
  debugEnabled,
  describeDebugError,
  formatDebugLine,
  ignored,
  MAX_DEBUG_ERROR_CHARS,
  type DebugMessage,
} from './debug.js';
export {
  booleanOption,
  listOption,
  mapOption,
  parseBackendOptions,
  parseBooleanOption,
  type ListOptionSettings,
} from './options.js';
export { OutputCollector } from './output-collector.js';
export {
  collectionBounds,
  collectPatternForms,
  decodeTrailer,
  encodePayload,
  MAX_TRAILER_PATH_BYTES,
  MAX_TRAILER_WARNING_CHARS,
  MAX_TRAILER_WARNINGS,
  maxTrailerBodyBytes,
  newRunnerNonce,
  RUNNER_PROTOCOL,
  RunnerOutput,
  RunnerTrailerError,
  TrailerScanner,
  type CollectionBounds,
  type DecodedTrailer,
  type PatternForm,
  type RunnerOutputOptions,
  type RunnerOutputState,
  type RunnerStream,
  type RunnerTrailer,
  type TrailerScannerOptions,
} from './runner-protocol.js';
export {
  DEFAULT_RUNTIME_IMAGE,
  RUNNER_PROTOCOL_LABEL,
  RUNTIME_IMAGE_UID,
  RUNTIME_IMAGE_VERSION,
  RUNTIME_VERSION_LABEL,
  RUNTIME_WORKDIR,
  runnerKindFor,
  supervisorCommand,
  type RunnerKind,
  type SupervisorCommandOptions,
} from './runtime-image.js';
export { EGRESS_PROXY_ENV, FORWARDER_PORTS, imageEgressEnv } from './egress-forwarder.js';
export {
  foreignKindFor,
  foreignSupervisorCommand,
  languagesOfTools,
  parseToolsProbe,
  RUNNER_DIR,
  runnerBundleFrame,
  toolsProbeCommand,
  TOOLS_PROBE_MARKER,
  type ForeignSupervisorOptions,
  type ImageTools,
} from './foreign-image.js';
export { LABELS, MANAGED_BY, newExecutionId, OWNER_ID, SESSION_ID } from './owner.js';
export {
  WarmPool,
  warmPoolsView,
  type WarmMember,
  type WarmPoolBackoff,
  type WarmPoolParams,
  type WarmPoolView,
} from './warm-pool.js';
export { SANDBOX_UID_RANGE, sandboxUidLeases, UidLeases, type UidLease } from './uid-lease.js';
// Defined with the request (which uses them too); only backends need them from outside.
export { normalizeRelativePath, relativePathProblem } from '../request.js';
export type { CanaryNetwork, ConformanceAdapter } from '../conformance/adapter.js';
