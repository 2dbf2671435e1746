import ipaddr from 'ipaddr.js';

/**
 * An IP address written the one way rules accept: IPv4 as four decimal parts
 * (`127.1`, `0x7f.0.0.1` and octal forms are refused: resolvers and URL parsers
 * read them differently), IPv6 in any RFC 4291 form without a zone (`%eth0`).
 */
export function parseStrictIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    // ipaddr accepts leading zeros ("010"), which some parsers read as octal.
    if (text.split('.').some((part) => part.length > 1 && part.startsWith('0'))) return undefined;
    return ipaddr.IPv4.parse(text);
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

/** True for text a resolver or URL parser would read as an IPv4 address rather than a name (`127.1`, `0x7f`). */
export function looksNumeric(name: string): boolean {
  const last = name.split('.').at(-1) ?? '';
  return /^(?:[0-9]+|0x[0-9a-f]*)$/i.test(last);
}
