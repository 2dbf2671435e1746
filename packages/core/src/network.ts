import { z } from 'zod';
import { InvalidRequestError, IsolationRefusedError } from './errors.js';
import { parseAllowPolicy, type AllowNetworkPolicyInput } from './egress/parse-policy.js';
import type { AllowNetworkPolicy } from './egress/policy-types.js';

/**
 * What a caller may pass as `network`: `'none'` (default), `'open'` (explicit
 * opt-in, for trusted calls and the conformance suite's control runs), or an
 * egress allow-list `{ mode: 'allow', allow: ['api.example.com', '10.0.0.0/8:5432'] }`
 * (syntax: parseEgressRule; refused by backends without `capabilities().egress`).
 */
export type NetworkPolicyInput = 'none' | 'open' | { mode: 'none' | 'open' } | AllowNetworkPolicyInput;

/** The normalized policy backends receive; switch on `mode` exhaustively. */
export type NetworkPolicy = { readonly mode: 'none' } | { readonly mode: 'open' } | AllowNetworkPolicy;

const NETWORK_FORMS = "must be 'none', 'open', { mode: 'none' | 'open' } or { mode: 'allow', allow: [...] }";

/**
 * Validates and normalises `network`.
 * @throws InvalidRequestError naming `field` (or the part inside it, such as `network.allow[2]`) and the value.
 */
export function normalizeNetwork(input: NetworkPolicyInput, field = 'network'): NetworkPolicy {
  const value: unknown = input;
  if (value === 'none' || value === 'open') return { mode: value };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidRequestError(field, value, NETWORK_FORMS);
  const mode = (value as { mode?: unknown }).mode;
  if (mode === 'allow') return parseAllowPolicy(value, field);
  if (mode !== 'none' && mode !== 'open') throw new InvalidRequestError(field, value, NETWORK_FORMS);
  const extra = Object.keys(value).find((key) => key !== 'mode');
  if (extra !== undefined)
    throw new InvalidRequestError(
      `${field}.${extra}`,
      (value as Record<string, unknown>)[extra],
      'is not a known field',
    );
  return { mode };
}

/**
 * `network` inside a request schema: validates with normalizeNetwork and outputs the
 * normalised policy; a failure becomes a zod issue whose path and `params.value`
 * name the exact part (`allow[2]`), so request errors read `network.allow[2]`.
 */
export const networkInputSchema = z
  .custom<NetworkPolicyInput>(() => true)
  .transform((value, ctx): NetworkPolicy => {
    try {
      return normalizeNetwork(value, '');
    } catch (error) {
      if (!(error instanceof InvalidRequestError)) throw error;
      ctx.addIssue({
        code: 'custom',
        path: error.field.split('.').filter(Boolean),
        message: String(error.context.reason),
        params: { value: error.value },
      });
      return z.NEVER;
    }
  });

/**
 * The mode a backend without egress enforcement runs: 'none' or 'open'. The base
 * executor already refuses (or, when waived, downgrades to 'none') an allow-list
 * such a backend cannot enforce; this is the backstop, so a bypass fails closed.
 * @throws IsolationRefusedError for mode 'allow'.
 */
export function closedNetworkMode(backend: string, network: NetworkPolicy): 'none' | 'open' {
  if (network.mode !== 'allow') return network.mode;
  throw new IsolationRefusedError(
    backend,
    'network',
    'is an egress allow-list, which this backend does not enforce yet',
    "Use network 'none' or 'open'.",
  );
}
