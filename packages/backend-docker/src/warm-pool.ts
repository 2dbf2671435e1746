import { debug, type RunnerKind } from '@cordon/core/backend';
import type { SandboxContainer } from './sandbox-container.js';

export interface WarmPoolOptions {
  /** Ready containers kept per runner kind. */
  size: number;
  kinds: readonly RunnerKind[];
  /** Makes one started container whose runner waits for its payload. */
  start(kind: RunnerKind): Promise<SandboxContainer>;
  /** Disposes of a container the pool no longer wants (dead, or drained). */
  discard(container: SandboxContainer): void;
  /** A refill failed; the pool backs off and retries. */
  onError(error: unknown): void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Containers created and started ahead of time, each with its runner booted and
 * waiting on stdin. Each is handed out once and never returns; the pool refills
 * in the background, backing off while the daemon fails.
 */
export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #ready = new Map<RunnerKind, SandboxContainer[]>();
  readonly #starting = new Map<RunnerKind, number>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #backoffMs = new Map<RunnerKind, number>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #draining = false;

  constructor(options: WarmPoolOptions) {
    this.#options = options;
    for (const kind of options.kinds) {
      this.#ready.set(kind, []);
      this.#starting.set(kind, 0);
    }
  }

  /** Starts filling every kind up to `size`, in the background. */
  fill(): void {
    for (const kind of this.#options.kinds) this.#refill(kind);
  }

  /** A ready container of this kind, or undefined (the caller then starts a cold one). */
  take(kind: RunnerKind): SandboxContainer | undefined {
    const ready = this.#ready.get(kind);
    if (!ready) return undefined;
    let taken: SandboxContainer | undefined;
    while ((taken = ready.shift())) {
      if (taken.ready) break;
      this.#options.discard(taken);
    }
    this.#refill(kind);
    return taken;
  }

  /** Ids of containers idling in the pool (held capacity, not leftovers). */
  idleIds(): Set<string> {
    return new Set([...this.#ready.values()].flat().map((container) => container.id));
  }

  /** Resolves once no container is being started (the pool is full, or failing and backing off). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops refilling, waits for starts in progress, and discards every idle container. */
  async drain(): Promise<void> {
    this.#draining = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    await Promise.allSettled([...this.#inFlight]);
    for (const ready of this.#ready.values()) {
      for (const container of ready.splice(0)) this.#options.discard(container);
    }
  }

  #refill(kind: RunnerKind): void {
    if (this.#draining) return;
    const ready = this.#ready.get(kind) ?? [];
    const starting = this.#starting.get(kind) ?? 0;
    for (let missing = this.#options.size - ready.length - starting; missing > 0; missing--) this.#startOne(kind);
  }

  #startOne(kind: RunnerKind): void {
    this.#starting.set(kind, (this.#starting.get(kind) ?? 0) + 1);
    debug('docker.pool', () => `refill ${kind}: starting a container`);
    const task = this.#options
      .start(kind)
      .then(
        (container) => {
          this.#backoffMs.delete(kind);
          if (this.#draining) {
            this.#options.discard(container);
            return;
          }
          this.#ready.get(kind)?.push(container);
          // A container that dies while idle (daemon restart, crash) leaves the pool at once.
          void container.ended.then(() => {
            const list = this.#ready.get(kind);
            const at = list?.indexOf(container) ?? -1;
            if (list && at >= 0) {
              list.splice(at, 1);
              this.#options.discard(container);
              this.#refill(kind);
            }
          });
        },
        (error: unknown) => {
          this.#options.onError(error);
          const backoff = Math.min(MAX_BACKOFF_MS, (this.#backoffMs.get(kind) ?? 500) * 2);
          this.#backoffMs.set(kind, backoff);
          debug('docker.pool', () => `refill ${kind} failed, retrying in ${backoff} ms`, error);
          const timer = setTimeout(() => {
            this.#retryTimers.delete(timer);
            this.#refill(kind);
          }, backoff);
          timer.unref();
          this.#retryTimers.add(timer);
        },
      )
      .finally(() => {
        this.#starting.set(kind, (this.#starting.get(kind) ?? 1) - 1);
        this.#inFlight.delete(task);
      });
    this.#inFlight.add(task);
  }
}
