import { z } from 'zod';

/**
 * What a caller may pass as `network`. Today: `'none'` (default) or `'open'`
 * (explicit opt-in, for trusted calls and the conformance suite's control runs).
 * The object form `{ mode }` is the shape an egress allow-list will extend
 * (`{ mode: 'allow', allow: ['api.example.com', '10.0.0.0/8'] }`) without breaking callers.
 */
export type NetworkPolicyInput = 'none' | 'open' | { mode: 'none' | 'open' };

/** The normalized policy backends receive; switch on `mode` exhaustively. */
export type NetworkPolicy = { readonly mode: 'none' } | { readonly mode: 'open' };

export const networkInputSchema = z.union(
  [z.enum(['none', 'open']), z.strictObject({ mode: z.enum(['none', 'open']) })],
  { error: "must be 'none', 'open' or { mode: 'none' | 'open' } (egress allow-lists are not supported yet)" },
);

export function normalizeNetwork(input: NetworkPolicyInput): NetworkPolicy {
  const mode = typeof input === 'string' ? input : input.mode;
  return mode === 'open' ? { mode: 'open' } : { mode: 'none' };
}
