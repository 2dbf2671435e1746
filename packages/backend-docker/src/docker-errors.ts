import { BackendFailureError, BackendUnavailableError, CordonError } from '@cordon/core';
import { BACKEND_NAME } from './backend-name.js';
import { DAEMON_REMEDY } from './runtime-image.js';

/** Our own deadline on one API call passed: the daemon is treated as unreachable. */
export class ApiTimeoutError extends Error {
  override name = 'ApiTimeoutError';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The daemon is unreachable (no socket, refused, reset, or our own API timeout). */
function isConnectionError(error: unknown): boolean {
  if (error instanceof ApiTimeoutError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** HTTP status of a raw Docker API error, when it is one. */
export function rawStatusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** HTTP status of the Docker API error behind a translated one (its `cause`). */
export function httpStatusOf(error: unknown): number | undefined {
  return rawStatusOf((error as { cause?: unknown } | undefined)?.cause);
}

/** The daemon's own message (`{"message": ...}`), or the error's. */
export function messageOf(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | undefined)?.json;
  if (json && typeof json.message === 'string') return json.message;
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  const message = error instanceof Error ? error.message : String(error);
  return typeof reason === 'string' && !message.includes(reason) ? `${reason}: ${message}` : message;
}

/** The daemon's message behind a translated error (its `cause`), else the error's own. */
export function daemonMessageOf(error: unknown): string {
  return messageOf((error as { cause?: unknown } | undefined)?.cause ?? error);
}

/**
 * Turns a raw dockerode/errno error into a cordon error naming what was being done:
 * unreachable daemon → BackendUnavailableError, anything else → BackendFailureError.
 */
export function translateDockerError(
  action: string,
  error: unknown,
  context: Record<string, unknown> = {},
): CordonError {
  if (error instanceof CordonError) return error;
  if (isConnectionError(error)) {
    return new BackendUnavailableError(
      BACKEND_NAME,
      `Docker daemon unreachable while trying to ${action} (${messageOf(error)})`,
      DAEMON_REMEDY,
      { cause: error },
    );
  }
  const status = rawStatusOf(error);
  return new BackendFailureError(
    BACKEND_NAME,
    `${action} failed${status ? ` (HTTP ${status})` : ''}: ${messageOf(error)}`,
    context,
    { cause: error },
  );
}
