import { domainToASCII } from 'node:url';
import { looksNumeric } from './ip-literal.js';

/**
 * A host name as rules and the broker compare it: lower case, no trailing dot,
 * IDNA A-labels. Undefined when it is not a valid DNS name (empty labels, bad
 * characters, over 253 bytes, a label over 63), and when its last label is a
 * number: URL parsers and resolvers read `127.1` or `0x7f.1` as an IPv4 address.
 */
export function normalizeHostName(input: string): string | undefined {
  const trimmed = input.endsWith('.') ? input.slice(0, -1) : input;
  if (trimmed.length === 0 || /[\s/\\@?#%:]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (ascii.length === 0 || ascii.length > 253) return undefined;
  // domainToASCII turns '127.1' (or full-width digits) into '127.0.0.1': an address, not a name.
  if (looksNumeric(ascii) || looksNumeric(trimmed)) return undefined;
  const labels = ascii.split('.');
  if (labels.some((label) => !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) return undefined;
  return ascii;
}
