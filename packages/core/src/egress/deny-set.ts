import ipaddr from 'ipaddr.js';

/**
 * Addresses a name's resolution may never lead to unless a CIDR rule names them
 * (or the test-only resolve override does): the host itself, metadata services,
 * private and carrier-grade NAT ranges, and their IPv6 counterparts.
 */
const DENIED_RANGES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
  // NAT64 and 6to4 embed IPv4 addresses, which could name a denied one.
  '64:ff9b::/96',
  '2002::/16',
];

const PARSED = DENIED_RANGES.map((range) => ({ range, cidr: ipaddr.parseCIDR(range) }));

/** The denied range `address` falls in, or undefined. IPv4-mapped IPv6 is judged as its IPv4 address. */
export function deniedRange(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  for (const { range, cidr } of PARSED) {
    if (cidr[0].kind() === parsed.kind() && parsed.match(cidr)) return range;
  }
  return undefined;
}

export { DENIED_RANGES };
