import { BackendFailureError, BackendUnavailableError, CordonError } from '@cordon/core';
import Docker from 'dockerode';
import { DAEMON_REMEDY } from './runtime-image.js';

export const BACKEND_NAME = 'docker';

/** A dockerode client for `dockerHost` (unix:// or tcp://), or for DOCKER_HOST / the default socket. */
export function connectDocker(dockerHost: string | undefined): Docker {
  if (dockerHost === undefined) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({
    host: url.hostname,
    port: url.port === '' ? (url.protocol === 'https:' ? 2376 : 2375) : Number(url.port),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
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
export function isConnectionError(error: unknown): boolean {
  if (error instanceof ApiTimeoutError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** HTTP status of a Docker API error, when it is one. */
export function statusCodeOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The daemon's own message (`{"message": ...}`), or the error's. */
export function messageOf(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | undefined)?.json;
  if (json && typeof json.message === 'string') return json.message;
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  const message = error instanceof Error ? error.message : String(error);
  return typeof reason === 'string' && !message.includes(reason) ? `${reason}: ${message}` : message;
}

export class ApiTimeoutError extends Error {
  override name = 'ApiTimeoutError';
}

/**
 * Bounds one Docker API call, so a hung daemon never hangs an execution, and turns
 * raw dockerode/errno errors into cordon errors naming what was being done.
 */
export async function dockerCall<T>(
  what: string,
  timeoutMs: number,
  call: () => Promise<T>,
  context: Record<string, unknown> = {},
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ApiTimeoutError(`no answer from the Docker daemon within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    throw toCordonError(what, error, context);
  } finally {
    clearTimeout(timer);
  }
}

export function toCordonError(what: string, error: unknown, context: Record<string, unknown> = {}): CordonError {
  if (error instanceof CordonError) return error;
  if (isConnectionError(error)) {
    return new BackendUnavailableError(
      BACKEND_NAME,
      `Docker daemon unreachable while trying to ${what} (${messageOf(error)})`,
      DAEMON_REMEDY,
      { cause: error },
    );
  }
  const status = statusCodeOf(error);
  return new BackendFailureError(
    BACKEND_NAME,
    `${what} failed${status ? ` (HTTP ${status})` : ''}: ${messageOf(error)}`,
    context,
    { cause: error },
  );
}
