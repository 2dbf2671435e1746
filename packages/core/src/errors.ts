/**
 * Every error cordon throws is a `CordonError`, so callers can catch one type and
 * read `code` and `context` instead of parsing messages. Raw dockerode, Kubernetes
 * or errno errors never reach the surface: backends wrap them as `cause`.
 */
import { debug } from './backend/debug.js';
export type CordonErrorCode =
  'INVALID_REQUEST' | 'BACKEND_UNAVAILABLE' | 'ISOLATION_REFUSED' | 'BACKEND_FAILURE' | 'EXECUTOR_CLOSED';

export class CordonError extends Error {
  override name = 'CordonError';
  readonly code: CordonErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: CordonErrorCode,
    message: string,
    context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.context = context;
  }
}

/** A request (or an option) failed validation; `field` is its dotted path. */
export class InvalidRequestError extends CordonError {
  override name = 'InvalidRequestError';
  readonly field: string;
  readonly value: unknown;

  constructor(field: string, value: unknown, reason: string) {
    super('INVALID_REQUEST', `invalid ${field}: ${reason} (got ${describeValue(value)})`, { field, value, reason });
    this.field = field;
    this.value = value;
  }
}

/** The backend cannot be used here: a package is missing, a daemon is down, an image is absent. */
export class BackendUnavailableError extends CordonError {
  override name = 'BackendUnavailableError';
  readonly backend: string;
  /** What to install or start, in words a person can act on. */
  readonly remedy: string;

  constructor(backend: string, reason: string, remedy: string, options?: { cause?: unknown }) {
    super(
      'BACKEND_UNAVAILABLE',
      `backend "${backend}" is unavailable: ${reason}. ${remedy}`,
      { backend, reason, remedy },
      options,
    );
    this.backend = backend;
    this.remedy = remedy;
  }
}

/**
 * Fail closed: an isolation layer could not be set up, or the request asks for a
 * guarantee the backend cannot give. Nothing was run.
 */
export class IsolationRefusedError extends CordonError {
  override name = 'IsolationRefusedError';
  readonly backend: string;
  /** The guarantee that could not be given, e.g. `network`, `limits.memoryBytes`. */
  readonly guarantee: string;
  readonly remedy: string;

  constructor(backend: string, guarantee: string, reason: string, remedy: string, options?: { cause?: unknown }) {
    super(
      'ISOLATION_REFUSED',
      `refused to run on "${backend}": ${guarantee} ${reason}. ${remedy}`,
      { backend, guarantee, reason, remedy },
      options,
    );
    this.backend = backend;
    this.guarantee = guarantee;
    this.remedy = remedy;
  }
}

/** The backend failed while running an execution (daemon died, API error). */
export class BackendFailureError extends CordonError {
  override name = 'BackendFailureError';
  readonly backend: string;
  readonly executionId: string | undefined;

  constructor(
    backend: string,
    message: string,
    context: { executionId?: string } & Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super('BACKEND_FAILURE', `backend "${backend}" failed: ${message}`, { backend, ...context }, options);
    this.backend = backend;
    this.executionId = context.executionId;
  }
}

/** `execute` was called after `close()`. */
export class ExecutorClosedError extends CordonError {
  override name = 'ExecutorClosedError';

  constructor(backend: string) {
    super('EXECUTOR_CLOSED', `executor "${backend}" is closed`, { backend });
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  }
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (typeof value === 'function') return 'a function';
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch (error) {
    // The class only: a JSON.stringify error quotes the value's keys, which are request data.
    debug(
      'core.errors',
      () => `value not JSON (${error instanceof Error ? error.name : typeof error}), described with String()`,
    );
    return String(value);
  }
}
