import type { EgressCaps } from '@cordon/core';

/**
 * Bounds for a `{ mode: 'none' }` session: no connection is ever allowed, and DNS
 * queries (all answered NXDOMAIN) stop being answered past this many.
 */
export const NONE_MODE_CAPS: EgressCaps = {
  maxOpenConnections: 0,
  maxConnections: 0,
  maxBytes: 0,
  maxConnectionMs: 0,
  maxDnsQueries: 1_000,
};

/** Counts one session's use against its caps; a denial reason names the cap. */
export class CapsMeter {
  #open = 0;
  #connections = 0;
  #bytes = 0;
  #dnsQueries = 0;

  constructor(readonly caps: EgressCaps) {}

  /** Takes one connection slot, or says which cap refused it. Pair with `release`. */
  reserveConnection(): string | undefined {
    if (this.#bytes >= this.caps.maxBytes) return 'cap maxBytes reached';
    if (this.#connections >= this.caps.maxConnections) return 'cap maxConnections reached';
    if (this.#open >= this.caps.maxOpenConnections) return 'cap maxOpenConnections reached';
    this.#connections++;
    this.#open++;
    return undefined;
  }

  release(): void {
    this.#open = Math.max(0, this.#open - 1);
  }

  /** Counts relayed bytes; false once the session's byte budget is spent. */
  addBytes(count: number): boolean {
    this.#bytes += count;
    return this.#bytes <= this.caps.maxBytes;
  }

  /** Counts one DNS query, or says the cap refused it. */
  countDnsQuery(): string | undefined {
    if (this.#dnsQueries >= this.caps.maxDnsQueries) return 'cap maxDnsQueries reached';
    this.#dnsQueries++;
    return undefined;
  }

  get openConnections(): number {
    return this.#open;
  }
}
