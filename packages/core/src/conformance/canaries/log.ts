/** One thing a canary received: a connection's bytes, a datagram, a DNS query name, an ICMP payload. */
export interface CanaryHit {
  /** Which canary, e.g. `tcp`, `udp6`, `dns-tcp`, `unix`. */
  readonly canary: string;
  /** Listening address, e.g. `127.0.0.1:41234` or a socket path. */
  readonly at: string;
  readonly receivedAt: number;
  data: Buffer;
}

const MAX_BYTES_PER_HIT = 64 * 1024;
const MAX_HITS = 20_000;

/**
 * The shared record of everything the canaries received. Verdicts search it for
 * a probe's nonce, so it keeps raw bytes rather than interpretations.
 */
export class CanaryLog {
  readonly #hits: CanaryHit[] = [];
  readonly #waiters = new Set<() => void>();

  /** Starts a record; append to it with `append` as more bytes of the same connection arrive. */
  record(canary: string, at: string, data: Buffer): CanaryHit {
    const hit: CanaryHit = { canary, at, receivedAt: Date.now(), data: data.subarray(0, MAX_BYTES_PER_HIT) };
    if (this.#hits.length < MAX_HITS) this.#hits.push(hit);
    this.#notify();
    return hit;
  }

  append(hit: CanaryHit, data: Buffer): void {
    if (hit.data.byteLength >= MAX_BYTES_PER_HIT) return;
    hit.data = Buffer.concat([hit.data, data]).subarray(0, MAX_BYTES_PER_HIT);
    this.#notify();
  }

  /** Where the nonce arrived, as `canary at`. Case-insensitive (DNS names may be re-cased). */
  deliveries(nonce: string): string[] {
    const needle = nonce.toLowerCase();
    const found = new Set<string>();
    for (const hit of this.#hits) {
      if (hit.data.toString('latin1').toLowerCase().includes(needle)) found.add(`${hit.canary} ${hit.at}`);
    }
    return [...found];
  }

  /** Resolves with the deliveries once the nonce shows up, or with `[]` after `timeoutMs`. */
  async waitFor(nonce: string, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.deliveries(nonce);
      if (found.length > 0) return found;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 100));
        this.#waiters.add(done);
      });
    }
  }

  get size(): number {
    return this.#hits.length;
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter();
  }
}
