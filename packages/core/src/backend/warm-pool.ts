import type { NormalizedRequest } from '../request.js';
import { debug, ignored } from './debug.js';

/** What the pool needs of a started sandbox. */
export interface WarmMember {
  /** Unique among the pool's members (a container id, a pod name, a sandbox id). */
  readonly id: string;
  /** False once it can no longer serve (its process died, or it was used); checked at take. Absent: alive. */
  readonly alive?: boolean;
  /** Resolves when it dies; an idle member then leaves the pool at once (and is replaced). */
  readonly ended?: Promise<unknown>;
}

/** Exponential backoff of refills after a failed start: `initialMs`, doubling, at most `maxMs`. */
export interface WarmPoolBackoff {
  initialMs: number;
  maxMs: number;
}

export interface WarmPoolParams<Member extends WarmMember, Key> {
  /** The debug area of its `NODE_DEBUG=cordon` lines, e.g. `docker.pool`. */
  area: string;
  /** Idle members kept per key. */
  size: number;
  /** What members are kept for (e.g. runner kinds); each key is filled to `size`. */
  keys: readonly Key[];
  /** The key a request is served from, or undefined when it does not fit the pool (a cold start). */
  keyFor(request: NormalizedRequest): Key | undefined;
  /** Starts one member for `key`, resolving once it waits for its request (rejects on failure, nothing left). */
  start(key: Key): Promise<Member>;
  /** Disposes of a member the pool no longer wants (dead, expired, unusable, or closed); awaited by `settled()`. */
  discard(member: Member): void | Promise<void>;
  /** Whether an idle member can serve this request (checked at take; an unusable one is discarded). */
  usableFor?(member: Member, request: NormalizedRequest): boolean;
  /** Idle members older than this (since their start began) are discarded and replaced. */
  maxAgeMs?: number;
  /** Starts in flight at once, all keys together (default unlimited; 1 fills serially). */
  startConcurrency?: number;
  /** Without it, a key whose start failed is refilled again only on its next take (or `fill()`). */
  backoff?: WarmPoolBackoff;
  /** A refill failed (after the pool logged it); not called once the pool is closed. */
  onRefillError?(error: unknown, key: Key): void;
}

interface Idle<Member> {
  readonly member: Member;
  /** `performance.now()` when its start began. */
  readonly since: number;
}

interface Slot<Member> {
  readonly idle: Idle<Member>[];
  starting: number;
  failures: number;
  /** Set after a failure: no refill until the retry timer (or, without backoff, the next take). */
  halted: boolean;
  retry: NodeJS.Timeout | undefined;
}

/**
 * Started sandboxes waiting for one request each, per key. A member is handed out
 * once and never returns; the pool refills in the background (backing off while
 * starts fail), evicts members that die or grow too old, and on close stops
 * refilling, waits for starts in flight and discards everything it holds.
 */
export class WarmPool<Member extends WarmMember, Key = string> {
  readonly #params: WarmPoolParams<Member, Key>;
  readonly #slots = new Map<Key, Slot<Member>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #discarding = new Set<Promise<void>>();
  readonly #errors = new Map<Key, unknown>();
  readonly #maintenance: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(params: WarmPoolParams<Member, Key>) {
    this.#params = params;
    for (const key of params.keys)
      this.#slots.set(key, { idle: [], starting: 0, failures: 0, halted: false, retry: undefined });
    const { maxAgeMs } = params;
    if (maxAgeMs !== undefined) {
      this.#maintenance = setInterval(() => this.#expire(), Math.max(1000, Math.floor(maxAgeMs / 4)));
      this.#maintenance.unref();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The last error a refill hit, while its key has not started a member since; undefined when all is well. */
  get refillError(): unknown {
    let last: unknown;
    for (const error of this.#errors.values()) last = error;
    return last;
  }

  /** Whether `request` can be served from the pool at all. */
  fits(request: NormalizedRequest): boolean {
    const key = this.#params.keyFor(request);
    return key !== undefined && this.#slots.has(key);
  }

  /** Starts filling every key up to `size`, in the background (a halted key is retried). */
  fill(): void {
    for (const slot of this.#slots.values()) if (!this.#params.backoff) slot.halted = false;
    this.#pump();
  }

  /**
   * An idle member for `request`, or undefined (the caller starts one cold): the request
   * does not fit, or none is idle. Dead, expired and unusable members met on the way are
   * discarded; the key is refilled either way.
   */
  take(request: NormalizedRequest): Member | undefined {
    if (this.#closed) return undefined;
    const key = this.#params.keyFor(request);
    const slot = key === undefined ? undefined : this.#slots.get(key);
    if (!slot) return undefined;
    let taken: Member | undefined;
    for (let entry = slot.idle.shift(); entry; entry = taken ? undefined : slot.idle.shift()) {
      if (this.#usable(entry, request)) taken = entry.member;
      else this.#discard(entry.member, 'at take');
    }
    if (!this.#params.backoff) slot.halted = false;
    this.#pump();
    return taken;
  }

  /** Ids of idle members (held capacity, not leftovers). */
  idleIds(): Set<string> {
    return new Set([...this.#slots.values()].flatMap((slot) => slot.idle.map((entry) => entry.member.id)));
  }

  /** Whether this member idles in the pool. */
  owns(id: string): boolean {
    for (const slot of this.#slots.values()) if (slot.idle.some((entry) => entry.member.id === id)) return true;
    return false;
  }

  /** Resolves once no start and no discard is in progress (the pool is full, or failing and backing off). */
  async settled(): Promise<void> {
    while (this.#inFlight.size + this.#discarding.size > 0)
      await Promise.allSettled([...this.#inFlight, ...this.#discarding]);
  }

  /** Stops refilling, waits for starts in flight, and discards every idle member (and those starts). */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#maintenance);
    for (const slot of this.#slots.values()) clearTimeout(slot.retry);
    await Promise.allSettled([...this.#inFlight]);
    for (const slot of this.#slots.values())
      for (const entry of slot.idle.splice(0)) this.#discard(entry.member, 'on close');
    await this.settled();
  }

  #usable(entry: Idle<Member>, request: NormalizedRequest): boolean {
    const { maxAgeMs } = this.#params;
    if (entry.member.alive === false) return false;
    if (maxAgeMs !== undefined && performance.now() - entry.since >= maxAgeMs) return false;
    return this.#params.usableFor?.(entry.member, request) ?? true;
  }

  /** Starts what is missing, key by key, within the concurrency. */
  #pump(): void {
    if (this.#closed) return;
    const concurrency = this.#params.startConcurrency ?? Infinity;
    for (const [key, slot] of this.#slots) {
      while (!slot.halted && slot.idle.length + slot.starting < this.#params.size) {
        if (this.#inFlight.size >= concurrency) return;
        this.#startOne(key, slot);
      }
    }
  }

  #startOne(key: Key, slot: Slot<Member>): void {
    const { area, backoff } = this.#params;
    slot.starting += 1;
    const since = performance.now();
    debug(area, () => `refill ${String(key)}: starting ${slot.idle.length + slot.starting} of ${this.#params.size}`);
    // A start that throws at once counts as a failed start, not as an error of the caller.
    const task = new Promise<Member>((resolve) => resolve(this.#params.start(key)))
      .then(
        (member) => {
          slot.failures = 0;
          this.#errors.delete(key);
          if (this.#closed) {
            this.#discard(member, 'closed meanwhile');
            return;
          }
          const entry = { member, since };
          slot.idle.push(entry);
          // A member that dies while idle (daemon restart, crash) leaves the pool at once.
          void member.ended?.then(() => {
            const at = slot.idle.indexOf(entry);
            if (at < 0) return;
            slot.idle.splice(at, 1);
            this.#discard(member, 'ended while idle');
            this.#pump();
          });
        },
        (error: unknown) => {
          if (this.#closed) {
            debug(area, () => `refill ${String(key)} failed after close`, error);
            return;
          }
          slot.failures += 1;
          slot.halted = true;
          this.#errors.delete(key);
          this.#errors.set(key, error);
          if (backoff) {
            const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(slot.failures - 1, 30));
            debug(area, () => `refill ${String(key)} failed, retrying in ${delay} ms`, error);
            slot.retry = setTimeout(() => {
              slot.retry = undefined;
              slot.halted = false;
              this.#pump();
            }, delay);
            slot.retry.unref();
          } else {
            debug(area, () => `refill ${String(key)} failed, no refill until the next take`, error);
          }
          this.#params.onRefillError?.(error, key);
        },
      )
      .finally(() => {
        slot.starting -= 1;
        this.#inFlight.delete(task);
        this.#pump();
      });
    this.#inFlight.add(task);
  }

  #discard(member: Member, why: string): void {
    debug(this.#params.area, () => `discard ${member.id} (${why})`);
    // Called at once (the member leaves now); a discard that throws is logged like one that rejects.
    const done = new Promise<void>((resolve) => resolve(this.#params.discard(member)))
      .catch(ignored(this.#params.area, () => `discard ${member.id}`))
      .finally(() => this.#discarding.delete(done));
    this.#discarding.add(done);
  }

  #expire(): void {
    const { maxAgeMs } = this.#params;
    if (maxAgeMs === undefined) return;
    const now = performance.now();
    for (const slot of this.#slots.values()) {
      for (let i = slot.idle.length - 1; i >= 0; i--) {
        const entry = slot.idle[i]!;
        if (now - entry.since < maxAgeMs) continue;
        slot.idle.splice(i, 1);
        this.#discard(entry.member, 'expired');
      }
    }
    this.#pump();
  }
}

/** What an executor shows of its pools (idle ids, settling, the last refill error). */
export type WarmPoolView = Pick<WarmPool<never, unknown>, 'idleIds' | 'settled' | 'refillError'>;

/** Several pools as one view (e.g. a backend's pool and its allow-list pool): the absent ones are left out. */
export function warmPoolsView(pools: readonly (WarmPoolView | undefined)[]): WarmPoolView | undefined {
  const present = pools.filter((pool): pool is WarmPoolView => pool !== undefined);
  if (present.length <= 1) return present[0];
  return {
    idleIds: () => new Set(present.flatMap((pool) => [...pool.idleIds()])),
    settled: async () => {
      await Promise.all(present.map((pool) => pool.settled()));
    },
    get refillError() {
      // The most recently made pool first: its refills are the newest.
      return present.reduceRight<unknown>((error, pool) => error ?? pool.refillError, undefined);
    },
  };
}
