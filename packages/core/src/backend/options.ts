import { z } from 'zod';
import { toInvalidRequestError } from '../request.js';

/**
 * Validates a backend's options with its zod schema. Options arrive from code,
 * from `--option KEY=VALUE` and from `CORDON_<NAME>_<KEY>` as strings, so schemas
 * should use `z.coerce`, `booleanOption`, `listOption` or `mapOption` for non-string fields.
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

/** A boolean option: a boolean from code, or `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` from CLI and env. */
export function booleanOption(defaultValue: boolean) {
  return z.preprocess(parseBooleanOption, z.boolean()).default(defaultValue);
}

export interface ListOptionSettings {
  /** The separators a string from CLI or env is split on, e.g. `[',', ':']` for paths. @default [','] */
  readonly separators?: readonly string[];
}

/**
 * A list option: an array from code is validated as it is; a string from CLI or env
 * (`CORDON_<BACKEND>_<KEY>=a, b`) is split on the separators (commas by default), each
 * item trimmed and empty items dropped. Errors name the item (`options.<key>.<index>`).
 */
export function listOption<Item extends z.ZodType>(item: Item, settings: ListOptionSettings = {}) {
  const separators = settings.separators ?? [','];
  return z.preprocess(
    (value) =>
      typeof value === 'string'
        ? separators
            .reduce((parts, separator) => parts.flatMap((part) => part.split(separator)), [value])
            .map((part) => part.trim())
            .filter((part) => part !== '')
        : value,
    z.array(item),
  );
}

/**
 * A map option of string keys: an object from code, or `a=b,c=d` from CLI or env (keys
 * and values trimmed, a pair without `=` an empty value, an empty string no entries).
 */
export function mapOption<Value extends z.ZodType>(value: Value) {
  return z.preprocess(
    (input) => {
      if (typeof input !== 'string') return input;
      if (input.trim() === '') return {};
      return Object.fromEntries(
        input.split(',').map((pair) => {
          const at = pair.indexOf('=');
          return at < 0 ? [pair.trim(), ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        }),
      );
    },
    z.record(z.string().min(1), value),
  );
}
