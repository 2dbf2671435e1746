import { promises as dns } from 'node:dns';
import { cidrRuleFor, deniedRange, type AllowNetworkPolicy } from '@cordon/core';

/** Looks a name up on the host; the broker checks every address it returns. */
export type EgressResolver = (name: string) => Promise<readonly string[]>;

const RESOLVE_TIMEOUT_MS = 5_000;
/** A resolver answering hundreds of addresses is not trusted to be read in full. */
const MAX_ADDRESSES = 32;

/** The host's resolver, A and AAAA; fails only when both fail. */
export const systemResolver: EgressResolver = async (name) => {
  const [v4, v6] = await Promise.allSettled([dns.resolve4(name), dns.resolve6(name)]);
  if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
  return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
};

export type Pinned = { readonly ok: true; readonly address: string; readonly port: number };
export type NotPinned = { readonly ok: false; readonly reason: string };

/**
 * The one address a connection to `name` will use: from the override (exhaustive,
 * and its addresses pass the deny set), else the first resolved address outside
 * the deny set or named by a CIDR rule. Never re-resolved within the connection.
 */
export async function pinAddress(params: {
  policy: AllowNetworkPolicy;
  name: string;
  port: number;
  resolver: EgressResolver;
}): Promise<Pinned | NotPinned> {
  const { policy, name, port } = params;
  if (policy.resolve) {
    const entry = policy.resolve.get(name);
    if (!entry) return { ok: false, reason: `${name} has no address in the resolve override` };
    const range = entry.denySet === 'apply' ? deniedRange(entry.address) : undefined;
    if (range !== undefined && !cidrRuleFor(policy, entry.address))
      return { ok: false, reason: `${name} resolves only to denied addresses: ${entry.address} (${range})` };
    return { ok: true, address: entry.address, port: entry.port ?? port };
  }
  let addresses: readonly string[];
  try {
    addresses = await withTimeout(params.resolver(name), RESOLVE_TIMEOUT_MS);
  } catch (error) {
    return { ok: false, reason: `cannot resolve ${name}: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!Array.isArray(addresses) || addresses.length === 0) return { ok: false, reason: `${name} resolves to nothing` };
  const refused: string[] = [];
  for (const address of addresses.slice(0, MAX_ADDRESSES)) {
    if (typeof address !== 'string') continue;
    const range = deniedRange(address);
    if (range === undefined || cidrRuleFor(policy, address)) return { ok: true, address, port };
    refused.push(`${address} (${range})`);
  }
  return { ok: false, reason: `${name} resolves only to denied addresses: ${refused.join(', ')}` };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
