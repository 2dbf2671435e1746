import { debug } from '@cordon/core/backend';
/**
 * File names from the sandbox are arbitrary bytes (anything but `/` and NUL). A result
 * carries paths as strings, so only names that are valid UTF-8 come back; the others
 * are named in a warning, with their invalid bytes escaped.
 */

// ignoreBOM: a name starting with U+FEFF keeps it (the default would strip it and rename the file).
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The name as a string, or undefined when it is not valid UTF-8. */
export function decodeName(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch (error) {
    // The name itself is file data: only its length.
    debug('spawn.files', () => `a ${bytes.byteLength}-byte file name is not UTF-8`, error);
    return undefined;
  }
}

/** Invalid bytes replaced by U+FFFD: what a pattern is matched against, to know whether the caller asked for the file. */
export function decodeNameLossy(bytes: Uint8Array): string {
  return lossy.decode(bytes);
}

/** How many bytes the UTF-8 sequence led by `byte` has; 0 when it cannot lead one. */
function sequenceLength(byte: number): number {
  if (byte < 0x80) return 1;
  if (byte >= 0xc2 && byte <= 0xdf) return 2;
  if (byte >= 0xe0 && byte <= 0xef) return 3;
  if (byte >= 0xf0 && byte <= 0xf4) return 4;
  return 0;
}

/**
 * The name in double quotes for a warning: valid characters as JSON writes them
 * (control characters escaped), each invalid byte as `\xNN`.
 */
export function quoteNameBytes(bytes: Uint8Array, maxChars = 200): string {
  let out = '';
  let valid = '';
  const flush = () => {
    out += JSON.stringify(valid).slice(1, -1);
    valid = '';
  };
  let index = 0;
  while (index < bytes.length && out.length + valid.length < maxChars) {
    const length = sequenceLength(bytes[index]!);
    const decoded =
      length > 0 && index + length <= bytes.length ? decodeName(bytes.subarray(index, index + length)) : undefined;
    if (decoded !== undefined) {
      valid += decoded;
      index += length;
    } else {
      flush();
      out += `\\x${bytes[index]!.toString(16).padStart(2, '0')}`;
      index += 1;
    }
  }
  flush();
  return `"${out}${index < bytes.length ? '…' : ''}"`;
}
