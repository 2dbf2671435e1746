import ipaddr from 'ipaddr.js';
import { getPublicSuffix } from 'tldts';
import { InvalidRequestError } from '../errors.js';
import { normalizeHostName } from './host-name.js';
import { parseStrictIp } from './ip-literal.js';
import type { EgressRule, EgressRuleInput, PortRange } from './policy-types.js';
import { DEFAULT_RULE_PORTS, parsePortSpec, portProblem } from './ports.js';

/** CIDR rules at least this specific; wider ones would amount to network 'open' with the deny set switched off. */
export const MIN_CIDR_PREFIX = { ipv4: 8, ipv6: 16 } as const;

type Target =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'wildcard'; readonly suffix: string }
  | { readonly kind: 'cidr'; readonly cidr: string };

/** Thrown inside this module with the reason only; parseEgressRule adds field and value. */
class RuleProblem extends Error {}
const refuse = (reason: string): never => {
  throw new RuleProblem(reason);
};

/**
 * One allow-list rule, validated and normalised. The syntax:
 * - `api.example.com`: that name (case, trailing dot and IDNA normalised);
 * - `*.example.com`: any name below example.com at any depth, never example.com itself;
 *   refused when example.com is a public suffix of the list's ICANN section (`*.com`, `*.co.uk`);
 * - `10.0.0.0/8`, `10.1.2.3` (a /32), `2001:db8::/32`, `2001:db8::1` (a /128);
 * - a port or an inclusive range after a colon: `api.example.com:8443`,
 *   `api.example.com:8000-8100`, `10.0.0.0/8:5432`; IPv6 with a port needs brackets:
 *   `[2001:db8::1]:443`, `[2001:db8::]/32:443`;
 * - `{ host, ports }` with `ports` numbers or `'a-b'` strings, and `host` any of the above without a port.
 * A rule without ports allows 443 and 80 only.
 * @throws InvalidRequestError naming `field`, the rule as given, and why.
 */
export function parseEgressRule(input: EgressRuleInput, field: string): EgressRule {
  try {
    if (typeof input === 'string') {
      const { host, port } = splitPort(input);
      const ports = port === undefined ? DEFAULT_RULE_PORTS : [portRange(port)];
      return withPorts(parseTarget(host), ports, input);
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      return refuse("must be a string such as 'api.example.com:443' or an object { host, ports }");
    const unknown = Object.keys(input).find((key) => key !== 'host' && key !== 'ports');
    if (unknown !== undefined) return refuse(`has unknown key "${unknown}" (only host and ports)`);
    const { host, ports } = input as { host?: unknown; ports?: unknown };
    if (typeof host !== 'string') return refuse('host must be a string');
    const split = splitPort(host);
    if (split.port !== undefined) return refuse('host must not carry a port; list it in ports');
    const ranges = ports === undefined ? DEFAULT_RULE_PORTS : portList(ports);
    return withPorts(parseTarget(split.host), ranges, sourceOf(host, ranges, ports === undefined));
  } catch (error) {
    if (error instanceof RuleProblem) throw new InvalidRequestError(field, input, error.message);
    throw error;
  }
}

function withPorts(target: Target, ports: readonly PortRange[], source: string): EgressRule {
  return { ...target, ports, source };
}

/** The object form as one string, so audit records name the rule the way string rules are named. */
function sourceOf(host: string, ports: readonly PortRange[], defaulted: boolean): string {
  if (defaulted) return host;
  const list = ports.map(({ from, to }) => (from === to ? `${from}` : `${from}-${to}`)).join(',');
  if (!host.includes(':') || host.startsWith('[')) return `${host}:${list}`;
  const [address, prefix] = host.split('/');
  return `[${address}]${prefix === undefined ? '' : `/${prefix}`}:${list}`;
}

function portList(ports: unknown): PortRange[] {
  if (!Array.isArray(ports)) return refuse("ports must be an array of numbers or 'a-b' strings");
  if (ports.length === 0) return refuse('ports must not be empty (leave ports out for 443 and 80)');
  return ports.map((port: unknown) => {
    if (typeof port === 'number') {
      const problem = portProblem(port);
      return problem ? refuse(problem) : { from: port, to: port };
    }
    if (typeof port === 'string') return portRange(port);
    return refuse("each port must be a number or an 'a-b' string");
  });
}

function portRange(spec: string): PortRange {
  const range = parsePortSpec(spec);
  return typeof range === 'string' ? refuse(range) : range;
}

/** Splits `host:port`, `[v6]:port`, `[v6]/n:port`; an unbracketed IPv6 (two colons or more) has no port. */
export function splitPort(text: string): { host: string; port?: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return refuse('has "[" without "]"');
    const after = text.slice(close + 1);
    const prefix = /^\/[0-9]+/.exec(after)?.[0] ?? '';
    const rest = after.slice(prefix.length);
    if (rest !== '' && !rest.startsWith(':')) return refuse('has text after "]" that is not a /prefix or :port');
    return { host: `${text.slice(1, close)}${prefix}`, ...(rest === '' ? {} : { port: rest.slice(1) }) };
  }
  const colons = text.split(':').length - 1;
  if (colons === 0) return { host: text };
  if (colons === 1) {
    const at = text.indexOf(':');
    return { host: text.slice(0, at), port: text.slice(at + 1) };
  }
  return { host: text };
}

function parseTarget(host: string): Target {
  if (host.length === 0) return refuse('host is empty');
  if (host.includes('/')) return { kind: 'cidr', cidr: parseCidr(host) };
  const ip = parseStrictIp(host);
  if (ip) return { kind: 'cidr', cidr: canonicalCidr(ip, ip.kind() === 'ipv4' ? 32 : 128) };
  if (host.includes(':'))
    return refuse('is not an IPv6 address (write IPv6 with a port as [2001:db8::1]:443, and no zone such as %eth0)');
  if (host.includes('*')) return parseWildcard(host);
  return { kind: 'name', name: parseName(host) };
}

function parseName(host: string): string {
  if (/^[0-9.]+$/.test(host) || /^0x/i.test(host))
    return refuse('is neither a host name nor an IPv4 address in four decimal parts (such as 10.1.2.3)');
  const name = normalizeHostName(host);
  if (name === undefined) return refuse('is not a valid host name');
  if (!name.includes('.')) return refuse('must be a fully qualified name (a single label resolves by search domain)');
  return name;
}

function parseWildcard(host: string): Target {
  if (host === '*' || host === '*.')
    return refuse("'*' alone would allow every name; use network 'open' if that is meant");
  if (!host.startsWith('*.') || host.slice(2).includes('*'))
    return refuse(
      "a wildcard must be the whole leftmost label, as in '*.example.com' ('a*.x.com' and 'x.*.com' are not)",
    );
  const suffix = normalizeHostName(host.slice(2));
  if (suffix === undefined || /^[0-9.]+$/.test(host.slice(2)))
    return refuse('is not a wildcard over a valid host name');
  // The list's ICANN section (com, co.uk): its private section also names provider zones such as
  // googleapis.com or github.io, where `*.googleapis.com` is the common, intended rule; a single
  // label (com, test, localhost) counts as a suffix whether or not the list knows it.
  if (!suffix.includes('.') || getPublicSuffix(suffix, { allowPrivateDomains: false }) === suffix)
    return refuse(
      `${suffix} is a public suffix: names below it belong to unrelated owners, so anyone could register one (list exact names instead)`,
    );
  return { kind: 'wildcard', suffix };
}

function parseCidr(text: string): string {
  const [address = '', prefixText = '', ...extra] = text.split('/');
  if (extra.length > 0 || !/^[0-9]{1,3}$/.test(prefixText)) return refuse('is not a CIDR such as 10.0.0.0/8');
  const ip = parseStrictIp(address);
  if (!ip) return refuse(`${address} is not an IP address in a CIDR (IPv4 as four decimal parts)`);
  const kind = ip.kind();
  const prefix = Number(prefixText);
  const max = kind === 'ipv4' ? 32 : 128;
  if (prefix > max) return refuse(`prefix /${prefix} is longer than /${max}`);
  if (prefix < MIN_CIDR_PREFIX[kind])
    return refuse(
      `prefix /${prefix} is wider than /${MIN_CIDR_PREFIX[kind]}; so wide a range would reach the host and metadata services, use network 'open' if that is meant`,
    );
  const network = (kind === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6).networkAddressFromCIDR(`${address}/${prefix}`);
  if (network.toNormalizedString() !== ip.toNormalizedString())
    return refuse(`has host bits set; the network is ${network.toString()}/${prefix}`);
  return canonicalCidr(ip, prefix);
}

function canonicalCidr(ip: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string {
  // decideAddress judges IPv4-mapped addresses as IPv4, so a rule written that way would never match.
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    return refuse(
      `is an IPv4-mapped IPv6 address; write it as IPv4 (${(ip as ipaddr.IPv6).toIPv4Address().toString()})`,
    );
  return `${ip.toString()}/${prefix}`;
}
