import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DENIED_RANGES, deniedRange } from '../src/egress/deny-set.js';

const MAX_V6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

/** Each range at its boundaries: its first and last address, and the addresses just outside it. */
const BOUNDARIES: Record<string, readonly (readonly [address: string, expected: string | undefined])[]> = {
  '0.0.0.0/8': [
    ['0.0.0.0', '0.0.0.0/8'],
    ['0.255.255.255', '0.0.0.0/8'],
    ['1.0.0.0', undefined],
  ],
  '10.0.0.0/8': [
    ['9.255.255.255', undefined],
    ['10.0.0.0', '10.0.0.0/8'],
    ['10.255.255.255', '10.0.0.0/8'],
    ['11.0.0.0', undefined],
  ],
  '100.64.0.0/10': [
    ['100.63.255.255', undefined],
    ['100.64.0.0', '100.64.0.0/10'],
    ['100.127.255.255', '100.64.0.0/10'],
    ['100.128.0.0', undefined],
  ],
  '127.0.0.0/8': [
    ['126.255.255.255', undefined],
    ['127.0.0.0', '127.0.0.0/8'],
    ['127.255.255.255', '127.0.0.0/8'],
    ['128.0.0.0', undefined],
  ],
  '169.254.0.0/16': [
    ['169.253.255.255', undefined],
    ['169.254.0.0', '169.254.0.0/16'],
    ['169.254.169.254', '169.254.0.0/16'],
    ['169.254.255.255', '169.254.0.0/16'],
    ['169.255.0.0', undefined],
  ],
  '172.16.0.0/12': [
    ['172.15.255.255', undefined],
    ['172.16.0.0', '172.16.0.0/12'],
    ['172.31.255.255', '172.16.0.0/12'],
    ['172.32.0.0', undefined],
  ],
  '192.0.0.0/24': [
    ['191.255.255.255', undefined],
    ['192.0.0.0', '192.0.0.0/24'],
    ['192.0.0.255', '192.0.0.0/24'],
    ['192.0.1.0', undefined],
  ],
  '192.0.2.0/24': [
    ['192.0.1.255', undefined],
    ['192.0.2.0', '192.0.2.0/24'],
    ['192.0.2.255', '192.0.2.0/24'],
    ['192.0.3.0', undefined],
  ],
  '192.88.99.0/24': [
    ['192.88.98.255', undefined],
    ['192.88.99.0', '192.88.99.0/24'],
    ['192.88.99.255', '192.88.99.0/24'],
    ['192.88.100.0', undefined],
  ],
  '192.168.0.0/16': [
    ['192.167.255.255', undefined],
    ['192.168.0.0', '192.168.0.0/16'],
    ['192.168.255.255', '192.168.0.0/16'],
    ['192.169.0.0', undefined],
  ],
  '198.18.0.0/15': [
    ['198.17.255.255', undefined],
    ['198.18.0.0', '198.18.0.0/15'],
    ['198.19.255.255', '198.18.0.0/15'],
    ['198.20.0.0', undefined],
  ],
  '198.51.100.0/24': [
    ['198.51.99.255', undefined],
    ['198.51.100.0', '198.51.100.0/24'],
    ['198.51.100.255', '198.51.100.0/24'],
    ['198.51.101.0', undefined],
  ],
  '203.0.113.0/24': [
    ['203.0.112.255', undefined],
    ['203.0.113.0', '203.0.113.0/24'],
    ['203.0.113.255', '203.0.113.0/24'],
    ['203.0.114.0', undefined],
  ],
  '224.0.0.0/4': [
    ['223.255.255.255', undefined],
    ['224.0.0.0', '224.0.0.0/4'],
    ['239.255.255.255', '224.0.0.0/4'],
  ],
  '240.0.0.0/4': [
    ['240.0.0.0', '240.0.0.0/4'],
    ['255.255.255.255', '240.0.0.0/4'],
  ],
  '::/128': [['::', '::/128']],
  '::1/128': [['::1', '::1/128']],
  '::/96': [
    ['::2', '::/96'],
    ['::10.0.0.1', '::/96'],
    ['::8.8.8.8', '::/96'],
    ['0:0:0:0:0:0:8.8.8.8', '::/96'],
    ['::ffff:ffff', '::/96'],
    ['::1:0:0', undefined],
  ],
  '::ffff:0:0:0/96': [
    ['::fffe:ffff:ffff:ffff', undefined],
    ['::ffff:0:0:0', '::ffff:0:0:0/96'],
    ['::ffff:0:8.8.8.8', '::ffff:0:0:0/96'],
    ['::ffff:0:ffff:ffff', '::ffff:0:0:0/96'],
    ['::ffff:1:0:0', undefined],
  ],
  '64:ff9b:1::/48': [
    ['64:ff9b:0:ffff:ffff:ffff:ffff:ffff', undefined],
    ['64:ff9b:1::', '64:ff9b:1::/48'],
    ['64:ff9b:1:ffff:ffff:ffff:ffff:ffff', '64:ff9b:1::/48'],
    ['64:ff9b:2::', undefined],
  ],
  '100::/64': [
    ['ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['100::', '100::/64'],
    ['100::ffff:ffff:ffff:ffff', '100::/64'],
  ],
  '100:0:0:1::/64': [
    ['100:0:0:1::', '100:0:0:1::/64'],
    ['100:0:0:1:ffff:ffff:ffff:ffff', '100:0:0:1::/64'],
    ['100:0:0:2::', undefined],
  ],
  '2001::/32': [
    ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['2001::', '2001::/32'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::/32'],
    ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', '2001::/32'],
    // PCP anycast, globally reachable.
    ['2001:1::1', undefined],
  ],
  '2001:2::/48': [
    ['2001:1:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['2001:2::', '2001:2::/48'],
    ['2001:2:0:ffff:ffff:ffff:ffff:ffff', '2001:2::/48'],
    ['2001:2:1::', undefined],
  ],
  '2001:10::/28': [
    ['2001:f:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['2001:10::', '2001:10::/28'],
    ['2001:1f:ffff:ffff:ffff:ffff:ffff:ffff', '2001:10::/28'],
    // ORCHIDv2, globally reachable.
    ['2001:20::', undefined],
  ],
  '2001:db8::/32': [
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['2001:db8::', '2001:db8::/32'],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32'],
    ['2001:db9::', undefined],
  ],
  '2002::/16': [
    ['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['2002::', '2002::/16'],
    ['2002:a00:1::1', '2002::/16'],
    ['2002:808:808::1', '2002::/16'],
    ['2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2002::/16'],
    ['2003::', undefined],
  ],
  '3fff::/20': [
    ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['3fff::', '3fff::/20'],
    ['3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', '3fff::/20'],
    ['3fff:1000::', undefined],
  ],
  '5f00::/16': [
    ['5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['5f00::', '5f00::/16'],
    ['5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '5f00::/16'],
    ['5f01::', undefined],
  ],
  'fc00::/7': [
    ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['fc00::', 'fc00::/7'],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fc00::/7'],
    ['fe00::', undefined],
  ],
  'fe80::/10': [
    ['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
    ['fe80::', 'fe80::/10'],
    ['fe80::1%eth0', 'fe80::/10'],
    ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe80::/10'],
  ],
  'fec0::/10': [
    ['fec0::', 'fec0::/10'],
    ['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fec0::/10'],
  ],
  'ff00::/8': [
    ['ff00::', 'ff00::/8'],
    [MAX_V6, 'ff00::/8'],
  ],
};

/** Forms judged by the IPv4 address they embed, at the prefix's boundaries. */
const EMBEDDED: readonly (readonly [address: string, expected: string | undefined])[] = [
  ['::ffff:0:0', '0.0.0.0/8'],
  ['::ffff:10.0.0.1', '10.0.0.0/8'],
  ['::ffff:a00:1', '10.0.0.0/8'],
  ['::ffff:127.0.0.1', '127.0.0.0/8'],
  ['::ffff:169.254.169.254', '169.254.0.0/16'],
  ['::ffff:8.8.8.8', undefined],
  ['::ffff:ffff:ffff', '240.0.0.0/4'],
  ['::fffe:ffff:ffff', undefined],
  ['64:ff9b::', '0.0.0.0/8'],
  ['64:ff9b::10.0.0.1', '10.0.0.0/8'],
  ['64:ff9b::a00:1', '10.0.0.0/8'],
  ['64:ff9b::127.0.0.1', '127.0.0.0/8'],
  ['64:ff9b::198.18.0.1', '198.18.0.0/15'],
  ['64:ff9b::8.8.8.8', undefined],
  ['64:ff9b::ffff:ffff', '240.0.0.0/4'],
  // Just past the /96: not NAT64's well-known form.
  ['64:ff9b::1:0:0', undefined],
  ['64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff', undefined],
];

describe('deniedRange at every range boundary', () => {
  it('has boundary cases for every denied range', () => {
    expect(Object.keys(BOUNDARIES).sort()).toEqual([...DENIED_RANGES].sort());
    for (const [range, cases] of Object.entries(BOUNDARIES))
      expect(
        cases.filter(([, expected]) => expected === range).length,
        `${range}: first and last address`,
      ).toBeGreaterThanOrEqual(1);
  });

  it.each(
    Object.entries(BOUNDARIES).flatMap(([range, cases]) =>
      cases.map(([address, expected]) => [range, address, expected]),
    ),
  )('%s: %s → %s', (_range, address, expected) => {
    expect(deniedRange(address as string)).toBe(expected);
  });

  it.each(EMBEDDED)('embedded IPv4: %s → %s', (address, expected) => {
    expect(deniedRange(address)).toBe(expected);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '2001:20::1',
    MAX_V6.replace(/^f+/, '2a00'),
  ])('%s (a public address) is not denied', (address) => {
    expect(deniedRange(address)).toBeUndefined();
  });

  it.each(['example.test', '127.1', '0x7f000001', '2130706433', '10.0.0.01', '[::1]', ' ::1', '', '1.2.3.4/32'])(
    'treats %j, which Node would not dial as that address, as no address (denied)',
    (text) => {
      expect(deniedRange(text)).toBe('not an IP address');
    },
  );
});

// Property tests: an independent reading of the address (bigint arithmetic, not ipaddr.js) must agree.
const V4_SIZE = 2n ** 32n;
const V6_SIZE = 2n ** 128n;

function v4ToBig(text: string): bigint {
  return text.split('.').reduce((value, part) => value * 256n + BigInt(Number(part)), 0n);
}

function v4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
}

/** IPv6 text (with `::`, a dotted tail, a zone) to its 128-bit value. */
function v6ToBig(text: string): bigint {
  let address = text.replace(/%.*$/, '');
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const value = v4ToBig(dotted[2] ?? '');
    address = `${dotted[1]}${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((value, group) => value * 65536n + BigInt(parseInt(group, 16)), 0n);
}

const parsedRanges = DENIED_RANGES.map((range) => {
  const [base = '', bits = '0'] = range.split('/');
  const v6 = base.includes(':');
  const width = v6 ? 128n : 32n;
  const start = v6 ? v6ToBig(base) : v4ToBig(base);
  return { range, v6, start, size: 2n ** (width - BigInt(Number(bits))) };
});

/** The oracle: mapped and NAT64 addresses stand for their low 32 bits; else the first range holding the value. */
function expectedRange(value: bigint, v6: boolean): string | undefined {
  if (v6 && (value >> 32n === 0xffffn || value >> 32n === 0x64ff9b0000000000000000n))
    return expectedRange(value & 0xffffffffn, false);
  return parsedRanges.find((r) => r.v6 === v6 && value >= r.start && value < r.start + r.size)?.range;
}

/** An address at, or one off, an edge of some denied range, or anywhere. */
function nearEdge(v6: boolean): fc.Arbitrary<bigint> {
  const ranges = parsedRanges.filter((r) => r.v6 === v6);
  const size = v6 ? V6_SIZE : V4_SIZE;
  return fc.oneof(
    fc.tuple(fc.constantFrom(...ranges), fc.boolean(), fc.integer({ min: -2, max: 2 })).map(([r, atEnd, delta]) => {
      const edge = atEnd ? r.start + r.size - 1n : r.start;
      return (((edge + BigInt(delta)) % size) + size) % size;
    }),
    fc.bigInt({ min: 0n, max: size - 1n }),
  );
}

function v6Text(value: bigint, style: 'full' | 'compressed' | 'dotted'): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  if (style === 'dotted') return `${groups.slice(0, 6).join(':')}:${v4Text(value & 0xffffffffn)}`;
  const full = groups.join(':');
  if (style === 'full') return full;
  // Compress the first run of zero groups, as ipaddr.js and inet_ntop would.
  return full.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/^:::?/, '::');
}

describe('deniedRange properties', () => {
  it('judges an IPv4 address as the first denied range holding it', () => {
    fc.assert(
      fc.property(nearEdge(false), (value) => {
        expect(deniedRange(v4Text(value))).toBe(expectedRange(value, false));
      }),
    );
  });

  it('judges an IPv6 address the same in every spelling, as the range (or embedded IPv4 address) holding it', () => {
    fc.assert(
      fc.property(
        nearEdge(true),
        fc.constantFrom<'full' | 'compressed' | 'dotted'>('full', 'compressed', 'dotted'),
        (value, style) => {
          const text = v6Text(value, style);
          expect(v6ToBig(text), text).toBe(value);
          expect(deniedRange(text), text).toBe(expectedRange(value, true));
        },
      ),
    );
  });

  it("agrees with fast-check's own IPv6 spellings", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        expect(deniedRange(text), text).toBe(expectedRange(v6ToBig(text), true));
      }),
    );
  });

  it('never lets a mapped, NAT64, IPv4-compatible, 6to4 or Teredo form reach a denied IPv4 address', () => {
    fc.assert(
      fc.property(nearEdge(false), fc.bigInt({ min: 0n, max: 2n ** 80n - 1n }), (v4, rest) => {
        const inner = deniedRange(v4Text(v4));
        expect(deniedRange(`::ffff:${v4Text(v4)}`)).toBe(inner);
        expect(deniedRange(`64:ff9b::${v4Text(v4)}`)).toBe(inner);
        expect(deniedRange(`::${v4Text(v4)}`)).toBe(v4 === 0n ? '::/128' : v4 === 1n ? '::1/128' : '::/96');
        expect(deniedRange(v6Text((0x2002n << 112n) | (v4 << 80n) | rest, 'full'))).toBe('2002::/16');
        expect(deniedRange(v6Text((0x20010000n << 96n) | (v4 << 64n) | (rest & (2n ** 64n - 1n)), 'compressed'))).toBe(
          '2001::/32',
        );
      }),
    );
  });
});
