/**
 * The debug channel: `NODE_DEBUG=cordon` prints, on stderr, why cordon swallowed an
 * error (a pool that stays empty, a reap that failed, a backend that was skipped).
 * Lines name what was being done by ids and paths only: never env values, request
 * code, stdin, output or file contents, and never an error's `context`.
 */
import { debuglog } from 'node:util';

const log = debuglog('cordon');

/** At most this many characters of an error's text, so one line stays one line. */
export const MAX_DEBUG_ERROR_CHARS = 300;

/** What `debug` and `ignored` accept for the message: a closure is only called when enabled. */
export type DebugMessage = string | (() => string);

/** Whether `NODE_DEBUG` names cordon; for call sites that would otherwise compute something. */
export function debugEnabled(): boolean {
  return log.enabled;
}

/**
 * One error as a bounded single line: class name and message. A `SyntaxError`'s message is
 * left out because JSON.parse quotes its input there (a parsed env value or file).
 */
export function describeDebugError(error: unknown): string {
  let text: string;
  if (error instanceof SyntaxError) text = error.name;
  else if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const name = error.name === 'Error' && typeof code === 'string' ? code : error.name;
    text = error.message.startsWith(`${name}:`) || !error.message ? error.message || name : `${name}: ${error.message}`;
  } else if (typeof error === 'string') text = error;
  else text = typeof error;
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_DEBUG_ERROR_CHARS ? `${text.slice(0, MAX_DEBUG_ERROR_CHARS - 1)}…` : text;
}

/** The line `debug` prints after Node's `CORDON <pid>: ` prefix. */
export function formatDebugLine(area: string, message: DebugMessage, ...error: [] | [unknown]): string {
  const text = typeof message === 'function' ? message() : message;
  return error.length > 0 ? `[${area}] ${text}: ${describeDebugError(error[0])}` : `[${area}] ${text}`;
}

/**
 * Writes `CORDON <pid>: [area] message[: error]` when `NODE_DEBUG` names cordon, else nothing
 * (no string is built: pass a closure for a message that costs something to make).
 */
export function debug(area: string, message: DebugMessage, ...error: [] | [unknown]): void {
  if (!log.enabled) return;
  log('%s', formatDebugLine(area, message, ...error));
}

/**
 * A `.catch` handler that logs the swallowed error and returns `fallback`:
 * `.catch(ignored('docker.reaper', () => `remove container ${id}`))`.
 */
export function ignored(area: string, what: DebugMessage): (error: unknown) => undefined;
export function ignored<T>(area: string, what: DebugMessage, fallback: T): (error: unknown) => T;
export function ignored<T>(area: string, what: DebugMessage, fallback?: T): (error: unknown) => T | undefined {
  return (error: unknown) => {
    debug(area, what, error);
    return fallback;
  };
}
