import type { PortRange } from './policy-types.js';

/** What a rule without a port allows: HTTPS and HTTP, nothing else (pitfall 8: say so rather than imply "any"). */
export const DEFAULT_RULE_PORTS: readonly PortRange[] = Object.freeze([
  Object.freeze({ from: 443, to: 443 }),
  Object.freeze({ from: 80, to: 80 }),
]);

const DECIMAL = /^[0-9]{1,5}$/;

/** A port number 1..65535 written in decimal, or why not. */
export function portProblem(port: unknown): string | undefined {
  if (typeof port !== 'number' || !Number.isInteger(port)) return 'a port must be an integer';
  if (port < 1 || port > 65535) return `port ${port} is outside 1..65535`;
  return undefined;
}

/**
 * `"8443"` or `"8000-8100"` (inclusive) as a range; a string saying why not when it
 * is neither, out of 1..65535, or empty (`9000-8000`).
 */
export function parsePortSpec(spec: string): PortRange | string {
  const parts = spec.split('-');
  if (parts.length > 2 || !parts.every((part) => DECIMAL.test(part)))
    return `"${spec}" is not a port or a port range (write 8443 or 8000-8100)`;
  const [from, to] = parts.map(Number) as [number, number?];
  const problem = portProblem(from) ?? (to === undefined ? undefined : portProblem(to));
  if (problem) return problem;
  if (to === undefined) return { from, to: from };
  if (to < from) return `port range ${spec} is empty (its end is below its start)`;
  return { from, to };
}
