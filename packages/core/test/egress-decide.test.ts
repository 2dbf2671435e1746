import { describe, expect, it } from 'vitest';
import { cidrRuleFor, decideAddress, decideName } from '../src/egress/decide.js';
import { parseAllowPolicy } from '../src/egress/parse-policy.js';
import type { EgressRuleInput } from '../src/egress/policy-types.js';

const policy = (...allow: EgressRuleInput[]) => parseAllowPolicy({ mode: 'allow', allow });

describe('decideName', () => {
  const exact = policy('api.example.test');
  const wildcard = policy('*.example.test');

  it.each([
    ['api.example.test', 443, true],
    ['api.example.test', 80, true],
    ['api.example.test', 8443, false],
    ['example.test', 443, false],
    ['v1.api.example.test', 443, false],
    ['evilapi.example.test', 443, false],
    ['api.example.test.evil.test', 443, false],
    ['api.example.testx', 443, false],
    ['other.example.test', 443, false],
  ])('exact rule: %s:%i allowed=%s', (name, port, allowed) => {
    expect(decideName(exact, name, port).allowed).toBe(allowed);
  });

  it.each([
    ['api.example.test', 443, true],
    ['a.b.c.example.test', 443, true],
    ['evilapi.example.test', 80, true],
    ['example.test', 443, false],
    ['evilexample.test', 443, false],
    ['api.example.test.evil.test', 443, false],
    ['example.test.evil.test', 443, false],
    ['api.example.test', 22, false],
  ])('wildcard rule: %s:%i allowed=%s', (name, port, allowed) => {
    expect(decideName(wildcard, name, port).allowed).toBe(allowed);
  });

  it('names the rule that allowed, and says why it denied', () => {
    const both = policy('api.example.test:8000-8100', '*.example.test');
    expect(decideName(both, 'api.example.test', 8050)).toEqual({ allowed: true, rule: 'api.example.test:8000-8100' });
    expect(decideName(both, 'api.example.test', 443)).toEqual({ allowed: true, rule: '*.example.test' });
    const wrongPort = decideName(both, 'api.example.test', 8101);
    expect(wrongPort.allowed).toBe(false);
    expect(wrongPort.allowed ? '' : wrongPort.reason).toMatch(/8101/);
    const unlisted = decideName(both, 'example.test', 443);
    expect(unlisted.allowed ? '' : unlisted.reason).toMatch(/not on the allow-list/);
  });

  it.each([
    [7999, false],
    [8000, true],
    [8100, true],
    [8101, false],
  ])('port range 8000-8100: %i allowed=%s', (port, allowed) => {
    expect(decideName(policy('api.example.test:8000-8100'), 'api.example.test', port).allowed).toBe(allowed);
  });

  it('never lets a CIDR rule allow a name', () => {
    expect(decideName(policy('10.0.0.0/8'), '10.0.0.1', 443).allowed).toBe(false);
  });
});

describe('decideAddress', () => {
  it.each([
    ['10.0.0.0/8:5432', '10.255.1.2', 5432, true],
    ['10.0.0.0/8:5432', '10.255.1.2', 5433, false],
    ['10.0.0.0/8:5432', '11.0.0.1', 5432, false],
    ['10.1.2.3', '10.1.2.3', 443, true],
    ['10.1.2.3', '10.1.2.4', 443, false],
    // IPv4-mapped IPv6 is judged as its IPv4 address (pitfall 5): the same rule, no second door.
    ['10.0.0.0/8:5432', '::ffff:10.0.0.1', 5432, true],
    ['10.1.2.3', '::ffff:10.1.2.4', 443, false],
    ['[2001:db8::]/32:443', '2001:db8:ffff::1', 443, true],
    ['[2001:db8::]/32:443', '2001:db9::1', 443, false],
    ['[2001:db8::]/32:443', '2001:db8::1', 80, false],
    // An IPv4 rule never matches an IPv6 address that is not a mapping of it.
    ['10.0.0.0/8', '::a00:1', 443, false],
    // Nor its IPv4-compatible spelling, which ipaddr.js alone would read as mapped: the kernel dials ::a00:1.
    ['10.0.0.0/8', '::10.0.0.1', 443, false],
    ['[::a00:1]/128', '::10.0.0.1', 443, true],
    // Text Node would resolve as a name rather than dial as an address.
    ['10.0.0.0/8', '10.1', 443, false],
    ['10.0.0.0/8', 'not-an-ip', 443, false],
  ])('%s: %s:%i allowed=%s', (rule, address, port, allowed) => {
    expect(decideAddress(policy(rule), address, port).allowed).toBe(allowed);
  });

  it('never lets a name rule allow an address', () => {
    expect(decideAddress(policy('*.example.test'), '10.0.0.1', 443).allowed).toBe(false);
  });

  it('cidrRuleFor finds the rule naming an address on any port', () => {
    const rules = policy('api.example.test', '10.0.0.0/8:5432');
    expect(cidrRuleFor(rules, '10.9.9.9')?.source).toBe('10.0.0.0/8:5432');
    expect(cidrRuleFor(rules, '::ffff:10.9.9.9')?.source).toBe('10.0.0.0/8:5432');
    expect(cidrRuleFor(rules, '192.168.0.1')).toBeUndefined();
  });
});
