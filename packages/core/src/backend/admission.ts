/**
 * A FIFO concurrency gate. Waiting honours an AbortSignal, so a caller that gives
 * up while queued never takes a slot.
 */
export class Admission {
  readonly #max: number;
  #active = 0;
  readonly #waiters: Array<{ grant: () => void; fail: (reason: unknown) => void }> = [];

  constructor(maxConcurrency: number) {
    this.#max = maxConcurrency;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves to a release function once a slot is free; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#active++;
          resolve(this.#releaser());
        },
        fail: (reason: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason instanceof Error ? reason : new Error(String(reason)));
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        waiter.fail(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Fails every queued caller, e.g. when the executor closes. */
  rejectAll(reason: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.fail(reason);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#waiters.shift()?.grant();
    };
  }
}
