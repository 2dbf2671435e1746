import type { Readable } from 'node:stream';
import { debug } from '@cordon/core/backend';
import type { DockerApi } from './docker-api.js';

/** How a container ended, as the daemon saw it. */
export interface ContainerExit {
  exitCode: number;
  /** The kernel's OOM killer acted in the container's cgroup before it died. */
  oomKilled: boolean;
}

/** A `die` or `oom` event line of `GET /events` (only the fields read here). */
interface ContainerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Exits nobody asked for yet are kept this long (a run reads its own within milliseconds). */
const UNCLAIMED_TTL_MS = 60_000;
/** Characters of one event line the parser keeps; a real one is well under this. */
const MAX_EVENT_LINE_CHARS = 64 * 1024;

interface Pending {
  resolve(exit: ContainerExit | undefined): void;
}

/**
 * Exit codes and OOM kills of one executor's containers, from one `GET /events`
 * subscription (label `cordon.dev/executor`). Containers are made with AutoRemove, so
 * the daemon forgets them as they exit and `inspect` would race the removal; the
 * events stream says it in order (`oom` before `die`). The socket is unref'd: it never
 * keeps a process alive. If the stream breaks, waiters get `undefined` and fall back
 * to `wait`.
 */
export class ContainerExits {
  readonly #api: DockerApi;
  readonly #labels: readonly string[];
  readonly #oom = new Set<string>();
  readonly #exits = new Map<string, { exit: ContainerExit; at: number }>();
  readonly #waiting = new Map<string, Pending[]>();
  #stream: Readable | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(params: { api: DockerApi; labels: readonly string[] }) {
    this.#api = params.api;
    this.#labels = params.labels;
  }

  /** Subscribes (once; again after a break). Resolves when the daemon answered, so no later exit is missed. */
  async connect(): Promise<void> {
    if (this.#closed) return;
    if (this.#stream) return;
    this.#connecting ??= this.#subscribe().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Whether the subscription is live (exits can be awaited here). */
  get connected(): boolean {
    return this.#stream !== undefined;
  }

  /**
   * The container's exit, once its `die` event arrives; `undefined` when the stream
   * broke first (or was never up) or `signal` fired.
   */
  async exitOf(id: string, signal: AbortSignal): Promise<ContainerExit | undefined> {
    const known = this.#exits.get(id);
    if (known) {
      this.#exits.delete(id);
      return known.exit;
    }
    if (!this.#stream || signal.aborted) return undefined;
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#drop(id, entry);
        resolve(undefined);
      };
      const entry: Pending = {
        resolve: (exit) => {
          signal.removeEventListener('abort', onAbort);
          resolve(exit);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(id, [...(this.#waiting.get(id) ?? []), entry]);
    });
  }

  /** Forgets what is known of a removed container. */
  forget(id: string): void {
    this.#exits.delete(id);
    this.#oom.delete(id);
  }

  close(): void {
    this.#closed = true;
    this.#stream?.destroy();
    this.#stream = undefined;
    this.#failWaiters();
  }

  async #subscribe(): Promise<void> {
    const stream = await this.#api.events({
      filters: { type: ['container'], event: ['oom', 'die'], label: [...this.#labels] },
    });
    if (this.#closed) {
      stream.destroy();
      return;
    }
    this.#stream = stream;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.#onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
      if (buffered.length > MAX_EVENT_LINE_CHARS) buffered = '';
    });
    const broken = () => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      debug('docker.events', 'the events stream ended; exits are read with wait until it is back');
      this.#failWaiters();
    };
    stream.once('end', broken);
    stream.once('close', broken);
    stream.on('error', broken);
  }

  #onLine(line: string): void {
    let event: ContainerEvent;
    try {
      event = JSON.parse(line) as ContainerEvent;
    } catch {
      return;
    }
    const id = event.Actor?.ID ?? event.id;
    const action = event.Action ?? event.status;
    if (!id) return;
    if (action === 'oom') {
      this.#oom.add(id);
      return;
    }
    if (action !== 'die') return;
    const exitCode = Number(event.Actor?.Attributes?.exitCode ?? NaN);
    const exit: ContainerExit = { exitCode: Number.isInteger(exitCode) ? exitCode : 255, oomKilled: this.#oom.has(id) };
    this.#oom.delete(id);
    const waiters = this.#waiting.get(id);
    if (waiters) {
      this.#waiting.delete(id);
      for (const waiter of waiters) waiter.resolve(exit);
      return;
    }
    const now = Date.now();
    for (const [known, { at }] of this.#exits) if (now - at > UNCLAIMED_TTL_MS) this.#exits.delete(known);
    this.#exits.set(id, { exit, at: now });
  }

  #drop(id: string, entry: Pending): void {
    const rest = (this.#waiting.get(id) ?? []).filter((waiter) => waiter !== entry);
    if (rest.length > 0) this.#waiting.set(id, rest);
    else this.#waiting.delete(id);
  }

  #failWaiters(): void {
    const waiting = [...this.#waiting.values()].flat();
    this.#waiting.clear();
    for (const waiter of waiting) waiter.resolve(undefined);
  }
}
