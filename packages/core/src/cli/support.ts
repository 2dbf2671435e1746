import { InvalidArgumentError } from 'commander';
import { CordonError, InvalidRequestError } from '../errors.js';

/** Collects repeatable `KEY=VALUE` flags into a record. */
export function collectKeyValue(flag: string) {
  return (pair: string, previous: Record<string, string> = {}): Record<string, string> => {
    const index = pair.indexOf('=');
    if (index <= 0) throw new InvalidArgumentError(`${flag} takes KEY=VALUE, got "${pair}"`);
    return { ...previous, [pair.slice(0, index)]: pair.slice(index + 1) };
  };
}

export function parseInteger(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number)) throw new InvalidArgumentError(`${flag} takes a whole number, got "${value}"`);
    return number;
  };
}

/** Exit codes for failures that produced no result. */
export const EXIT_INVALID = 2;
export const EXIT_UNAVAILABLE = 3;

/** Prints a cordon error for a person (or as JSON) and returns the exit code to use. */
export function reportError(error: unknown, json: boolean): number {
  const exitCode = error instanceof InvalidRequestError ? EXIT_INVALID : EXIT_UNAVAILABLE;
  if (json) {
    const body =
      error instanceof CordonError
        ? { name: error.name, code: error.code, message: error.message, context: error.context }
        : { name: 'Error', code: 'UNEXPECTED', message: error instanceof Error ? error.message : String(error) };
    process.stdout.write(`${JSON.stringify({ error: body }, jsonReplacer)}\n`);
  } else {
    process.stderr.write(`cordon: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  return exitCode;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? `${value.byteLength} bytes` : value;
}
