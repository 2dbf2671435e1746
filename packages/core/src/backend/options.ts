import type { z } from 'zod';
import { toInvalidRequestError } from '../request.js';

/**
 * Validates a backend's options with its zod schema. Options arrive from code,
 * from `--option KEY=VALUE` and from `CORDON_<NAME>_<KEY>` as strings, so schemas
 * should use `z.coerce` or `booleanOption` for non-string fields.
 * @throws InvalidRequestError naming `options.<key>` and the bad value.
 */
export function parseBackendOptions<Schema extends z.ZodType>(
  schema: Schema,
  options: Record<string, unknown>,
): z.output<Schema> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) throw toInvalidRequestError(parsed.error, options, 'options');
  return parsed.data;
}

/** Accepts booleans and the strings `true`/`false`/`1`/`0`/`yes`/`no` (for CLI and env options). */
export function parseBooleanOption(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  return value;
}
