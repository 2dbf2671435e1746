import ipaddr from 'ipaddr.js';
import { parseDialledAddress } from './ip-literal.js';
import type { AllowNetworkPolicy, EgressDecision, EgressRule, PortRange } from './policy-types.js';

const inPorts = (ports: readonly PortRange[], port: number) => ports.some(({ from, to }) => port >= from && port <= to);

function nameMatches(rule: EgressRule, name: string): boolean {
  if (rule.kind === 'name') return rule.name === name;
  if (rule.kind === 'wildcard') return name.endsWith(`.${rule.suffix}`) && name.length > rule.suffix.length + 1;
  return false;
}

function addressMatches(rule: EgressRule, address: string): boolean {
  if (rule.kind !== 'cidr') return false;
  try {
    let parsed = parseDialledAddress(address);
    if (parsed === undefined) return false;
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    const range = ipaddr.parseCIDR(rule.cidr);
    return range[0].kind() === parsed.kind() && parsed.match(range);
  } catch {
    return false;
  }
}

/**
 * May the sandbox reach `name` (already normalised, see normalizeHostName) on `port`?
 * Only name and wildcard rules apply; an IP literal is judged by decideAddress.
 */
export function decideName(policy: AllowNetworkPolicy, name: string, port: number): EgressDecision {
  const byName = policy.rules.filter((rule) => nameMatches(rule, name));
  if (byName.length === 0) return { allowed: false, reason: `${name} is not on the allow-list` };
  const rule = byName.find((candidate) => inPorts(candidate.ports, port));
  if (!rule) return { allowed: false, reason: `${name} is allowed only on ${describePorts(byName)}, not port ${port}` };
  return { allowed: true, rule: rule.source };
}

/** May the sandbox reach the IP address itself (an IP literal, or a captured connection to one)? Only CIDR rules apply. */
export function decideAddress(policy: AllowNetworkPolicy, address: string, port: number): EgressDecision {
  const byAddress = policy.rules.filter((rule) => addressMatches(rule, address));
  if (byAddress.length === 0) return { allowed: false, reason: `${address} is in no CIDR rule` };
  const rule = byAddress.find((candidate) => inPorts(candidate.ports, port));
  if (!rule)
    return { allowed: false, reason: `${address} is allowed only on ${describePorts(byAddress)}, not port ${port}` };
  return { allowed: true, rule: rule.source };
}

/** The CIDR rule that names `address` (any port), if one does: such an address passes the deny set. */
export function cidrRuleFor(policy: AllowNetworkPolicy, address: string): EgressRule | undefined {
  return policy.rules.find((rule) => addressMatches(rule, address));
}

function describePorts(rules: readonly EgressRule[]): string {
  const ports = rules.flatMap((rule) => rule.ports.map(({ from, to }) => (from === to ? `${from}` : `${from}-${to}`)));
  return `port${ports.length === 1 ? '' : 's'} ${[...new Set(ports)].join(', ')}`;
}
