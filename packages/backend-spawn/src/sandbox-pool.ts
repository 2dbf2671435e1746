import type { SandboxProcess } from './sandbox-process.js';
import { debug, ignored } from '@cordon/core/backend';

/**
 * Pre-started kernel-tier sandboxes, each waiting for one job and used once (off
 * by default, `poolSize`). A taken sandbox is replaced in the background, one at a
 * time, so refills do not crowd the CPU the running executions need.
 */
export class SandboxPool {
  readonly #size: number;
  readonly #start: () => Promise<SandboxProcess>;
  readonly #cleanup: (sandbox: SandboxProcess) => Promise<void>;
  readonly #ready: SandboxProcess[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;

  constructor(size: number, start: () => Promise<SandboxProcess>, cleanup: (sandbox: SandboxProcess) => Promise<void>) {
    this.#size = size;
    this.#start = start;
    this.#cleanup = cleanup;
    this.#fill();
  }

  /** Ids of the idle members (their cgroups and processes are not leftovers while the executor is open). */
  get idleIds(): ReadonlySet<string> {
    return new Set(this.#ready.map((sandbox) => sandbox.id));
  }

  /** A ready sandbox, or undefined (the caller starts one cold). */
  take(): SandboxProcess | undefined {
    let taken: SandboxProcess | undefined;
    while (!taken && this.#ready.length > 0) {
      const candidate = this.#ready.shift()!;
      if (candidate.alive) taken = candidate;
      else void this.#cleanup(candidate);
    }
    this.#fill();
    return taken;
  }

  /** Resolves once the pool is full (or a start failed); for tests and warm-up. */
  async filled(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  #fill(): void {
    if (this.#filling || this.#closed) return;
    this.#filling = (async () => {
      while (!this.#closed && this.#ready.length < this.#size) {
        debug('spawn.pool', () => `refill: starting sandbox ${this.#ready.length + 1} of ${this.#size}`);
        const sandbox = await this.#start().catch(
          ignored('spawn.pool', 'refill: start a sandbox (cold starts until the next take)'),
        );
        // A host that cannot start sandboxes now gets cold starts (which report the error) until the next take.
        if (!sandbox) return;
        if ((await sandbox.ready()) && !this.#closed) this.#ready.push(sandbox);
        else {
          debug('spawn.pool', () =>
            this.#closed
              ? 'refill: closed meanwhile'
              : 'refill: a sandbox failed to get ready, refill stops until the next take',
          );
          await this.#cleanup(sandbox);
          return;
        }
      }
    })().finally(() => {
      this.#filling = undefined;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#filling;
    await Promise.all(this.#ready.splice(0).map((sandbox) => this.#cleanup(sandbox)));
  }
}
