import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { DEFAULT_AUDIT_LIMIT } from './audit.js';
import { normalizeHostName } from './host-name.js';
import { parseStrictIp } from './ip-literal.js';
import { parseEgressRule, splitPort } from './parse-rule.js';
import type { AllowNetworkPolicy, EgressCaps, EgressResolveOverride, EgressRuleInput } from './policy-types.js';
import { portProblem } from './ports.js';

const MiB = 1024 * 1024;

/**
 * The broker's per-execution bounds when a policy sets none: 64 connections open
 * at once, 1000 over the execution, 256 MiB up plus down, 5 minutes per
 * connection, 2000 DNS queries. Each may be set (`caps`) to any positive integer.
 */
export const DEFAULT_EGRESS_CAPS: EgressCaps = Object.freeze({
  maxOpenConnections: 64,
  maxConnections: 1_000,
  maxBytes: 256 * MiB,
  maxConnectionMs: 5 * 60 * 1000,
  maxDnsQueries: 2_000,
});

/** Records kept per execution at most, whatever `auditLimit` asks. */
export const MAX_AUDIT_LIMIT = 100_000;
/** Rules per policy and names per resolve override at most, so a policy stays cheap to check per attempt. */
export const MAX_EGRESS_RULES = 1_000;

/** What a caller writes for `network: { mode: 'allow', ... }`. */
export interface AllowNetworkPolicyInput {
  readonly mode: 'allow';
  /** Rules (see parseEgressRule for the syntax); at least one. */
  readonly allow: readonly EgressRuleInput[];
  /** Audit records kept (0..100000). @default DEFAULT_AUDIT_LIMIT */
  readonly auditLimit?: number;
  /** @default DEFAULT_EGRESS_CAPS, per field */
  readonly caps?: Partial<EgressCaps>;
  /** Test only, exhaustive: name → `"ADDRESS"` or `"ADDRESS:PORT"` (`"[v6]:PORT"`). See EgressResolveOverride. */
  readonly resolve?: Readonly<Record<string, ResolveTargetInput>>;
}

const cap = z.number().int('must be an integer').positive('must be a positive integer').max(Number.MAX_SAFE_INTEGER);

/** The shape of the allow form; the rules themselves are checked one by one by parseAllowPolicy. */
export const allowPolicyInputSchema = z.strictObject({
  mode: z.literal('allow'),
  allow: z.array(z.unknown()).max(MAX_EGRESS_RULES),
  auditLimit: z.number().int().min(0).max(MAX_AUDIT_LIMIT).optional(),
  caps: z
    .strictObject({
      maxOpenConnections: cap.optional(),
      maxConnections: cap.optional(),
      maxBytes: cap.optional(),
      maxConnectionMs: cap.optional(),
      maxDnsQueries: cap.optional(),
    })
    .optional(),
  resolve: z
    .record(
      z.string(),
      z.union([
        z.string(),
        z.strictObject({
          address: z.string(),
          port: z.number().int().optional(),
          denySet: z.literal('apply'),
        }),
      ]),
    )
    .optional(),
});

/**
 * The caller's allow form as backends and the broker receive it: every rule
 * parsed and normalised, caps and audit limit defaulted, the resolve override a map.
 * @throws InvalidRequestError naming the field (`network.allow[2]`, `network.caps.maxBytes`)
 *   and the value, for a malformed or unsafe rule, an empty `allow`, or an unknown key.
 */
export function parseAllowPolicy(input: unknown, field = 'network'): AllowNetworkPolicy {
  const parsed = allowPolicyInputSchema.safeParse(input);
  if (!parsed.success) throw shapeError(parsed.error, input, field);
  const policy = parsed.data;
  if (policy.allow.length === 0)
    throw new InvalidRequestError(
      `${field}.allow`,
      policy.allow,
      "must list at least one rule (use network 'none' for no egress)",
    );
  const rules = policy.allow.map((rule, index) => parseEgressRule(rule as EgressRuleInput, `${field}.allow[${index}]`));
  const given = policy.caps ?? {};
  const caps: EgressCaps = {
    maxOpenConnections: given.maxOpenConnections ?? DEFAULT_EGRESS_CAPS.maxOpenConnections,
    maxConnections: given.maxConnections ?? DEFAULT_EGRESS_CAPS.maxConnections,
    maxBytes: given.maxBytes ?? DEFAULT_EGRESS_CAPS.maxBytes,
    maxConnectionMs: given.maxConnectionMs ?? DEFAULT_EGRESS_CAPS.maxConnectionMs,
    maxDnsQueries: given.maxDnsQueries ?? DEFAULT_EGRESS_CAPS.maxDnsQueries,
  };
  return {
    mode: 'allow',
    rules,
    auditLimit: policy.auditLimit ?? DEFAULT_AUDIT_LIMIT,
    caps: Object.freeze(caps),
    ...(policy.resolve === undefined ? {} : { resolve: parseResolveOverride(policy.resolve, `${field}.resolve`) }),
  };
}

/** `{ 'api.example.test': '127.0.0.1:8443' }` as the broker's exhaustive map; names normalised like rules. */
/**
 * A resolve target: `'ADDRESS[:PORT]'` (a canary: passes the deny set), or
 * `{ address, port?, denySet: 'apply' }`, a name that resolves to that address and
 * is judged like any resolved name (the conformance suite's private-address check).
 */
export type ResolveTargetInput =
  string | { readonly address: string; readonly port?: number; readonly denySet: 'apply' };

export function parseResolveOverride(
  input: Readonly<Record<string, ResolveTargetInput>>,
  field: string,
): EgressResolveOverride {
  const entries = Object.entries(input);
  if (entries.length > MAX_EGRESS_RULES)
    throw new InvalidRequestError(field, `${entries.length} names`, `must list at most ${MAX_EGRESS_RULES} names`);
  const map = new Map<string, { address: string; port?: number; denySet?: 'apply' }>();
  for (const [key, target] of entries) {
    const name = normalizeHostName(key);
    if (name === undefined || !name.includes('.'))
      throw new InvalidRequestError(`${field}.${key}`, key, 'must be a fully qualified host name (no wildcard, no IP)');
    if (map.has(name)) throw new InvalidRequestError(`${field}.${key}`, key, `names ${name} a second time`);
    if (typeof target === 'string') map.set(name, parseResolveTarget(target, `${field}.${key}`));
    else {
      const at = `${field}.${key}`;
      const parsed = parseResolveTarget(target.address, `${at}.address`);
      if (parsed.port !== undefined)
        throw new InvalidRequestError(
          `${at}.address`,
          target.address,
          'is an address alone here: give the port as port',
        );
      const problem = target.port === undefined ? undefined : portProblem(target.port);
      if (problem) throw new InvalidRequestError(`${at}.port`, target.port, problem);
      map.set(name, { ...parsed, ...(target.port === undefined ? {} : { port: target.port }), denySet: 'apply' });
    }
  }
  return map;
}

function parseResolveTarget(target: string, field: string): { address: string; port?: number } {
  const bad = (reason: string) => new InvalidRequestError(field, target, reason);
  let host: string;
  let port: string | undefined;
  try {
    ({ host, port } = splitPort(target));
  } catch (error) {
    throw bad(error instanceof Error ? error.message : String(error));
  }
  const ip = parseStrictIp(host);
  if (!ip || host.includes('/'))
    throw bad("must be an IP address, optionally with a port: '10.1.2.3', '10.1.2.3:8443', '[::1]:8443'");
  if (port === undefined) return { address: ip.toString() };
  const number = /^[0-9]{1,5}$/.test(port) ? Number(port) : Number.NaN;
  const problem = portProblem(number);
  if (problem) throw bad(problem);
  return { address: ip.toString(), port: number };
}

function shapeError(error: z.ZodError, input: unknown, field: string): InvalidRequestError {
  const issue = error.issues[0];
  if (!issue) return new InvalidRequestError(field, input, 'is invalid');
  let path = issue.path.map(String);
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    reason = 'is not a known field';
  }
  let value: unknown = input;
  for (const key of path)
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return new InvalidRequestError([field, ...path].join('.'), value, reason);
}
