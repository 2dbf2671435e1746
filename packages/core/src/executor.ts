import type { EventEmitter } from 'node:events';
import type { BackendCapabilities } from './capabilities.js';
import type { EgressRecord } from './egress/audit.js';
import type { ExecutionRequest, Language } from './request.js';
import type { ExecutionResult, ExecutionStatus } from './result.js';

export interface ExecutionStartEvent {
  id: string;
  backend: string;
  language: Language;
  tags: Record<string, string>;
  queuedMs: number;
  startedAt: Date;
}

export interface ExecutionEndEvent {
  id: string;
  backend: string;
  language: Language;
  tags: Record<string, string>;
  /** Undefined when the backend failed and `execute` threw (see `error`). */
  status: ExecutionStatus | undefined;
  exitCode: number | null;
  queuedMs: number;
  durationMs: number;
  error?: Error;
}

/** One egress attempt of a running execution. */
export interface ExecutionEgressEvent {
  id: string;
  backend: string;
  tags: Record<string, string>;
  record: EgressRecord;
}

export interface ExecutorEvents {
  start: [ExecutionStartEvent];
  end: [ExecutionEndEvent];
  /**
   * Emitted as each egress attempt completes (allowed or denied, also those past
   * the audit limit), so callers meter traffic live rather than after the result.
   */
  egress: [ExecutionEgressEvent];
}

/**
 * The contract every backend implements. One executor may run many executions at
 * once (up to `maxConcurrency`); each execution gets a fresh sandbox.
 */
export interface Executor extends AsyncDisposable {
  readonly name: string;
  /** Start/end of every execution, with id, backend, status and timings; egress attempts as they complete. */
  readonly events: EventEmitter<ExecutorEvents>;
  /**
   * Runs one program in a fresh sandbox. Resolves with a result for every outcome
   * of the program (ok, error, timeout, oom, aborted).
   * @throws InvalidRequestError for a bad request, IsolationRefusedError when the
   *   backend cannot give a requested guarantee, BackendUnavailableError or
   *   BackendFailureError when the backend itself fails.
   */
  execute(request: ExecutionRequest): Promise<ExecutionResult>;
  capabilities(): BackendCapabilities;
  /** Aborts running executions, fails queued ones, and removes everything this executor made. */
  close(): Promise<void>;
}

/** Options every backend accepts. */
export interface ExecutorOptions {
  /** Executions running at once; others wait in a FIFO queue. @default 4 */
  maxConcurrency?: number;
}
