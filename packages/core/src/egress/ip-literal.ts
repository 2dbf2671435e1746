import { isIP } from 'node:net';
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
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return parseIPv6(text);
  return undefined;
}

/**
 * An address as the kernel will dial it (an answer from a resolver, a connection's
 * target), or undefined for text Node would not dial as that address (`127.1`,
 * `[::1]`), which it would resolve as a name instead.
 */
export function parseDialledAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const family = isIP(text);
  try {
    if (family === 4) return ipaddr.IPv4.parse(text);
    if (family === 6) return parseIPv6(text);
  } catch {
    // Node and ipaddr.js disagree: not an address we can judge.
  }
  return undefined;
}

/**
 * IPv6 text, its dotted tail read as two hex groups: ipaddr.js reads `::1.2.3.4`
 * as IPv4-mapped (::ffff:102:304) where the kernel reads IPv4-compatible (::102:304).
 */
function parseIPv6(text: string): ipaddr.IPv6 {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)(%.*)?$/.exec(text);
  if (!match) return ipaddr.IPv6.parse(text);
  const [, head = '', a = '0', b = '0', c = '0', d = '0', zone = ''] = match;
  const group = (x: string, y: string) => ((Number(x) << 8) | Number(y)).toString(16);
  return ipaddr.IPv6.parse(`${head}${group(a, b)}:${group(c, d)}${zone}`);
}

/** True for text a resolver or URL parser would read as an IPv4 address rather than a name (`127.1`, `0x7f`). */
export function looksNumeric(name: string): boolean {
  const last = name.split('.').at(-1) ?? '';
  return /^(?:[0-9]+|0x[0-9a-f]*)$/i.test(last);
}
