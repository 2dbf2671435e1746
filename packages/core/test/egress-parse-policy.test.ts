import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import { DEFAULT_AUDIT_LIMIT } from '../src/egress/audit.js';
import { DEFAULT_EGRESS_CAPS, parseAllowPolicy } from '../src/egress/parse-policy.js';
import type { EgressRule, EgressRuleInput } from '../src/egress/policy-types.js';

/** A parsed rule without its `source` (Omit over each member of the union). */
type RuleShape<T = EgressRule> = T extends unknown ? Omit<T, 'source'> : never;

const WEB = [
  { from: 443, to: 443 },
  { from: 80, to: 80 },
];

function rule(input: EgressRuleInput): EgressRule {
  const policy = parseAllowPolicy({ mode: 'allow', allow: [input] });
  expect(policy.rules).toHaveLength(1);
  return policy.rules[0] as EgressRule;
}

function refusal(input: unknown, field = 'network'): InvalidRequestError {
  try {
    parseAllowPolicy(input, field);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('parseAllowPolicy: accepted rules', () => {
  it.each<[EgressRuleInput, RuleShape]>([
    ['api.stripe.com', { kind: 'name', name: 'api.stripe.com', ports: WEB }],
    ['API.Stripe.COM.', { kind: 'name', name: 'api.stripe.com', ports: WEB }],
    ['bücher.example', { kind: 'name', name: 'xn--bcher-kva.example', ports: WEB }],
    ['under_score.example.test', { kind: 'name', name: 'under_score.example.test', ports: WEB }],
    ['*.example.test', { kind: 'wildcard', suffix: 'example.test', ports: WEB }],
    ['*.Api.Example.com.', { kind: 'wildcard', suffix: 'api.example.com', ports: WEB }],
    ['*.user.github.io', { kind: 'wildcard', suffix: 'user.github.io', ports: WEB }],
    // Provider zones on the list's private section are the intended use of a wildcard.
    ['*.googleapis.com', { kind: 'wildcard', suffix: 'googleapis.com', ports: WEB }],
    ['*.github.io', { kind: 'wildcard', suffix: 'github.io', ports: WEB }],
    ['api.example.com:8443', { kind: 'name', name: 'api.example.com', ports: [{ from: 8443, to: 8443 }] }],
    ['api.example.com:8000-8100', { kind: 'name', name: 'api.example.com', ports: [{ from: 8000, to: 8100 }] }],
    ['api.example.com:1-65535', { kind: 'name', name: 'api.example.com', ports: [{ from: 1, to: 65535 }] }],
    ['*.example.test:5432', { kind: 'wildcard', suffix: 'example.test', ports: [{ from: 5432, to: 5432 }] }],
    ['10.0.0.0/8:5432', { kind: 'cidr', cidr: '10.0.0.0/8', ports: [{ from: 5432, to: 5432 }] }],
    ['10.0.0.0/8', { kind: 'cidr', cidr: '10.0.0.0/8', ports: WEB }],
    ['10.1.2.3', { kind: 'cidr', cidr: '10.1.2.3/32', ports: WEB }],
    ['10.1.2.3:22', { kind: 'cidr', cidr: '10.1.2.3/32', ports: [{ from: 22, to: 22 }] }],
    ['2001:db8::/32', { kind: 'cidr', cidr: '2001:db8::/32', ports: WEB }],
    ['2001:DB8:0:0::1', { kind: 'cidr', cidr: '2001:db8::1/128', ports: WEB }],
    ['[2001:db8::1]:443', { kind: 'cidr', cidr: '2001:db8::1/128', ports: [{ from: 443, to: 443 }] }],
    ['[2001:db8::]/32:443', { kind: 'cidr', cidr: '2001:db8::/32', ports: [{ from: 443, to: 443 }] }],
    ['[2001:db8::1]', { kind: 'cidr', cidr: '2001:db8::1/128', ports: WEB }],
    [
      { host: 'api.example.test', ports: [443, '8000-8100', '9000'] },
      {
        kind: 'name',
        name: 'api.example.test',
        ports: [
          { from: 443, to: 443 },
          { from: 8000, to: 8100 },
          { from: 9000, to: 9000 },
        ],
      },
    ],
    [{ host: 'api.example.test' }, { kind: 'name', name: 'api.example.test', ports: WEB }],
    [
      { host: '2001:db8::/32', ports: [443] },
      { kind: 'cidr', cidr: '2001:db8::/32', ports: [{ from: 443, to: 443 }] },
    ],
    [
      { host: '[2001:db8::1]', ports: [53] },
      { kind: 'cidr', cidr: '2001:db8::1/128', ports: [{ from: 53, to: 53 }] },
    ],
  ])('%j', (input, expected) => {
    const parsed = rule(input);
    expect(parsed).toMatchObject(expected);
    expect(parsed).toEqual({ ...expected, source: parsed.source });
    if (typeof input === 'string') expect(parsed.source).toBe(input);
  });

  it('names an object rule in one string, as string rules are named', () => {
    expect(rule({ host: 'api.example.test', ports: [443, '8000-8100'] }).source).toBe('api.example.test:443,8000-8100');
    expect(rule({ host: '2001:db8::/32', ports: [443] }).source).toBe('[2001:db8::]/32:443');
    expect(rule({ host: 'api.example.test' }).source).toBe('api.example.test');
  });

  it('applies the default audit limit and caps, and overrides caps per field', () => {
    const plain = parseAllowPolicy({ mode: 'allow', allow: ['a.example.test'] });
    expect(plain.auditLimit).toBe(DEFAULT_AUDIT_LIMIT);
    expect(plain.caps).toEqual(DEFAULT_EGRESS_CAPS);
    expect(DEFAULT_EGRESS_CAPS).toEqual({
      maxOpenConnections: 64,
      maxConnections: 1000,
      maxBytes: 256 * 1024 * 1024,
      maxConnectionMs: 300_000,
      maxDnsQueries: 2000,
    });
    expect(plain.resolve).toBeUndefined();
    const tuned = parseAllowPolicy({
      mode: 'allow',
      allow: ['a.example.test'],
      auditLimit: 0,
      caps: { maxBytes: 1024, maxDnsQueries: 1 },
    });
    expect(tuned.auditLimit).toBe(0);
    expect(tuned.caps).toEqual({ ...DEFAULT_EGRESS_CAPS, maxBytes: 1024, maxDnsQueries: 1 });
  });

  it('turns resolve into the exhaustive map, names normalised, ports optional', () => {
    const policy = parseAllowPolicy({
      mode: 'allow',
      allow: ['*.example.test'],
      resolve: {
        'API.Example.Test.': '127.0.0.1:8443',
        'v6.example.test': '[::1]:80',
        'plain.example.test': '127.0.0.2',
        'bare6.example.test': '::1',
        // Unbracketed IPv6 never carries a port: '::1:80' is the address ::1:50.
        'ambiguous.example.test': '::1:80',
      },
    });
    expect([...(policy.resolve ?? [])]).toEqual([
      ['api.example.test', { address: '127.0.0.1', port: 8443 }],
      ['v6.example.test', { address: '::1', port: 80 }],
      ['plain.example.test', { address: '127.0.0.2' }],
      ['bare6.example.test', { address: '::1' }],
      ['ambiguous.example.test', { address: '::1:80' }],
    ]);
  });
});

describe('parseAllowPolicy: refused rules', () => {
  it.each<[unknown, RegExp]>([
    ['*.com', /com is a public suffix/],
    ['*.co.uk', /co\.uk is a public suffix/],
    ['*.test', /test is a public suffix/],
    ['*', /'\*' alone/],
    ['*.', /'\*' alone/],
    ['a*.x.com', /whole leftmost label/],
    ['x.*.com', /whole leftmost label/],
    ['*.*.example.com', /whole leftmost label/],
    ['**.example.com', /whole leftmost label/],
    ['*example.com', /whole leftmost label/],
    ['bad..name', /not a valid host name/],
    ['-bad.example.com', /not a valid host name/],
    ['bad name.example.com', /not a valid host name/],
    [`${'a'.repeat(64)}.example.com`, /not a valid host name/],
    ['user@example.com', /not a valid host name/],
    ['localhost', /fully qualified/],
    ['127.1', /four decimal parts/],
    ['0x7f.0.0.1', /four decimal parts/],
    ['010.0.0.1', /four decimal parts/],
    ['host.0x7f', /not a valid host name/],
    ['１２７.0.0.1', /not a valid host name/],
    ['api.example.com:0', /port 0 is outside 1\.\.65535/],
    ['api.example.com:65536', /port 65536 is outside/],
    ['api.example.com:', /not a port or a port range/],
    ['api.example.com:https', /not a port or a port range/],
    ['api.example.com:-5', /not a port or a port range/],
    ['api.example.com:1-2-3', /not a port or a port range/],
    ['api.example.com:9000-8000', /9000-8000 is empty/],
    ['10.0.0.1/8', /host bits set; the network is 10\.0\.0\.0\/8/],
    ['[2001:db8::1]/32:443', /host bits set; the network is 2001:db8::\/32/],
    ['10.0.0.0/33', /longer than \/32/],
    ['10.0.0.0/x', /not a CIDR/],
    ['0.0.0.0/0', /wider than \/8/],
    ['::/0', /wider than \/16/],
    ['2001:db8::/32:443', /not a CIDR/],
    ['::ffff:10.0.0.1', /IPv4-mapped.*10\.0\.0\.1/],
    ['fe80::1%eth0', /no zone/],
    ['[2001:db8::1', /"\[" without "\]"/],
    ['[2001:db8::1]x', /after "\]"/],
    ['', /host is empty/],
    [':443', /host is empty/],
    [42, /must be a string/],
    [null, /must be a string/],
    [{ host: 'a.example.test', ports: [] }, /ports must not be empty/],
    [{ host: 'a.example.test', ports: [0] }, /port 0 is outside/],
    [{ host: 'a.example.test', ports: [1.5] }, /integer/],
    [{ host: 'a.example.test', ports: ['9000-8000'] }, /empty/],
    [{ host: 'a.example.test', ports: [true] }, /number or an 'a-b' string/],
    [{ host: 'a.example.test', ports: 443 }, /ports must be an array/],
    [{ host: 'a.example.test:443' }, /must not carry a port/],
    [{ host: 'a.example.test', port: 443 }, /unknown key "port"/],
    [{ ports: [443] }, /host must be a string/],
  ])('%j', (input, reason) => {
    const error = refusal({ mode: 'allow', allow: ['ok.example.test', input] });
    expect(error.field).toBe('network.allow[1]');
    expect(error.value).toEqual(input);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('network.allow[1]');
    if (typeof input === 'string') expect(error.message).toContain(JSON.stringify(input).slice(0, 40));
  });

  it.each<[unknown, string, RegExp]>([
    [{ mode: 'allow', allow: [] }, 'network.allow', /use network 'none'/],
    [{ mode: 'allow' }, 'network.allow', /expected array/i],
    [{ mode: 'allow', allow: ['a.example.test'], extra: 1 }, 'network.extra', /not a known field/],
    [{ mode: 'allow', allow: ['a.example.test'], auditLimit: -1 }, 'network.auditLimit', /./],
    [{ mode: 'allow', allow: ['a.example.test'], auditLimit: 100_001 }, 'network.auditLimit', /./],
    [{ mode: 'allow', allow: ['a.example.test'], auditLimit: 1.5 }, 'network.auditLimit', /./],
    [{ mode: 'allow', allow: ['a.example.test'], caps: { maxBytes: 0 } }, 'network.caps.maxBytes', /positive/],
    [
      { mode: 'allow', allow: ['a.example.test'], caps: { maxConnections: -3 } },
      'network.caps.maxConnections',
      /positive/,
    ],
    [
      { mode: 'allow', allow: ['a.example.test'], caps: { maxConnectionMs: 2.5 } },
      'network.caps.maxConnectionMs',
      /integer/,
    ],
    [{ mode: 'allow', allow: ['a.example.test'], caps: { maxRequests: 1 } }, 'network.caps.maxRequests', /not a known/],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { 'x.example.test': 'nope' } },
      'network.resolve.x.example.test',
      /IP address/,
    ],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { 'x.example.test': '127.0.0.1:0' } },
      'network.resolve.x.example.test',
      /outside/,
    ],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { 'x.example.test': '10.0.0.0/8' } },
      'network.resolve.x.example.test',
      /IP address/,
    ],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { '*.example.test': '127.0.0.1' } },
      'network.resolve.*.example.test',
      /no wildcard/,
    ],
    [
      {
        mode: 'allow',
        allow: ['a.example.test'],
        resolve: { 'A.example.test': '127.0.0.1', 'a.example.test.': '127.0.0.2' },
      },
      'network.resolve.a.example.test.',
      /second time/,
    ],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { 'x.example.test': 1 } },
      'network.resolve.x.example.test',
      /./,
    ],
  ])('%j names %s', (input, field, reason) => {
    const error = refusal(input);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(reason);
  });

  it('names the field it is given', () => {
    expect(refusal({ mode: 'allow', allow: ['*.com'] }, 'options.network').field).toBe('options.network.allow[0]');
  });
});
