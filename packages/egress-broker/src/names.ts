import { decideName, type AllowNetworkPolicy } from '@cordon/core';

/** Does any rule name `name` (on any port)? The DNS answers only such names. */
export function isNameListed(policy: AllowNetworkPolicy, name: string): boolean {
  return policy.rules.some((rule) => {
    const port = rule.ports[0]?.from;
    return port !== undefined && decideName({ ...policy, rules: [rule] }, name, port).allowed;
  });
}

/** Printable, bounded text of a name the sandbox sent, for records and header values. */
export function printable(text: string, maxLength = 253): string {
  const cleaned = text.replace(/[^\x20-\x7e]/g, '?');
  return cleaned.length > maxLength ? `${cleaned.slice(0, maxLength)}…` : cleaned;
}

/** `[::1]` → `::1`: URL and CONNECT authorities bracket IPv6 literals. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Splits `host[:port]` (IPv6 bracketed); undefined when malformed. */
export function splitAuthority(authority: string): { host: string; port?: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!match?.[1]) return undefined;
  const host = unbracket(match[1]);
  if (match[2] === undefined) return { host };
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}
