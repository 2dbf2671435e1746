import { domainToASCII } from 'node:url';

/**
 * A host name as rules and the broker compare it: lower case, no trailing dot,
 * IDNA A-labels. Undefined when it is not a valid DNS name (empty labels, bad
 * characters, over 253 bytes, a label over 63).
 */
export function normalizeHostName(input: string): string | undefined {
  const trimmed = input.endsWith('.') ? input.slice(0, -1) : input;
  if (trimmed.length === 0 || /[\s/\\@?#%:]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (ascii.length === 0 || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.some((label) => !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) return undefined;
  return ascii;
}
