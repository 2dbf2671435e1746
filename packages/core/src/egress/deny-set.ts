import ipaddr from 'ipaddr.js';
import { parseDialledAddress } from './ip-literal.js';

/**
 * Addresses a name's resolution may never lead to unless a CIDR rule names them
 * (or the test-only resolve override does): the host itself, metadata services,
 * private, carrier-grade NAT and special-purpose ranges (IANA's IPv4 and IPv6
 * special-purpose registries), and their IPv6 counterparts. Each with why.
 */
const DENIED: readonly (readonly [range: string, why: string])[] = [
  ['0.0.0.0/8', '"this network": 0.0.0.0 reaches the host itself on Linux'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT: the provider side of the host, not the internet'],
  ['127.0.0.0/8', 'loopback: the host itself'],
  ['169.254.0.0/16', 'link-local, with the cloud metadata services (169.254.169.254)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (DS-Lite, NAT64 discovery): local to the network'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1): never a real destination, often reused as a LAN'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast (RFC 7526): no service of a name lives there'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  // The broker's DNS hands out synthetic addresses from here; a captured connection to one is
  // mapped back to its name before any deny-set check, so this only stops a real resolver's answer.
  ['198.18.0.0/15', "benchmarking, and the broker's synthetic DNS answers"],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast: not a connection to one host'],
  ['240.0.0.0/4', 'reserved, with the limited broadcast 255.255.255.255'],
  ['::/128', 'unspecified: reaches the host itself'],
  ['::1/128', 'loopback: the host itself'],
  ['::/96', 'deprecated IPv4-compatible (RFC 4291), which no destination uses: denied whatever it embeds'],
  ['::ffff:0:0:0/96', 'SIIT IPv4-translated (RFC 2765), local to a translator: denied whatever it embeds'],
  ['64:ff9b:1::/48', "local-use NAT64 (RFC 8215): the embedded address's position is the operator's choice"],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['100:0:0:1::/64', 'dummy prefix (RFC 9780): never routed'],
  ['2001::/32', 'Teredo: tunnelled to an obfuscated IPv4 address through relays, denied whatever it embeds'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'deprecated ORCHID: identifiers, not addresses'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4 (deprecated, RFC 7526): relayed to its embedded IPv4 address, denied whatever it embeds'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['5f00::/16', "SRv6 segment identifiers: inside one operator's network"],
  ['fc00::/7', 'unique local (ULA): the IPv6 private ranges'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'deprecated site-local (RFC 3879): still private where it is used'],
  ['ff00::/8', 'multicast'],
];
// Judged by the IPv4 address they embed instead (see embeddedIPv4): ::ffff:0:0/96 (IPv4-mapped: the
// kernel dials the IPv4 address) and 64:ff9b::/96 (NAT64 well-known prefix: a translator dials it).
// Left open, as globally reachable services: PCP/TURN anycast, AMT, AS112, ORCHIDv2, drone remote ID.

const DENIED_RANGES: readonly string[] = DENIED.map(([range]) => range);

const PARSED = DENIED_RANGES.map((range) => ({ range, cidr: ipaddr.parseCIDR(range) }));
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

/**
 * The denied range `address` falls in, or undefined. IPv4-mapped and NAT64
 * (64:ff9b::/96) addresses are judged as the IPv4 address they embed; text that
 * is not an address as Node would dial it (`127.1`, `[::1]`) is denied.
 */
export function deniedRange(address: string): string | undefined {
  let parsed = parseDialledAddress(address);
  if (parsed === undefined) return 'not an IP address';
  if (parsed.kind() === 'ipv6') parsed = embeddedIPv4(parsed as ipaddr.IPv6) ?? parsed;
  for (const { range, cidr } of PARSED) {
    if (cidr[0].kind() === parsed.kind() && parsed.match(cidr)) return range;
  }
  return undefined;
}

/** The IPv4 address a mapped or NAT64 address stands for: what the connection really reaches. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  if (!address.match(NAT64)) return undefined;
  const [high = 0, low = 0] = address.parts.slice(6);
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}

export { DENIED_RANGES };
