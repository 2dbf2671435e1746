import { randomBytes } from 'node:crypto';
import type { ExecutionLimits, NormalizedRequest } from '@cordon/core';
import { DEADLINE_GRACE_SECONDS } from './manifests.js';
import { debug } from '@cordon/core/backend';

/** A started pod waiting for one request. */
export interface WarmPod {
  readonly name: string;
  readonly namespace: string;
  /** `performance.now()` when the pod was created. */
  readonly createdAt: number;
  readonly activeDeadlineSeconds: number;
}

export interface WarmPoolDeps<Pod extends WarmPod = WarmPod> {
  size: number;
  maxAgeMs: number;
  /** Limits every pool pod is made with; other requests get a cold pod. */
  limits: ExecutionLimits;
  /** Creates a pod and resolves once its runner is up (throws on failure, pod removed). */
  start(name: string): Promise<Pod>;
  /** Removes a pod; never throws. */
  remove(pod: Pod): Promise<void>;
  /** Refill failures (e.g. the image is missing): reported, then retried with backoff. */
  onError(error: unknown): void;
}

/**
 * Pre-started single-use pods with the runner booted and waiting on stdin, so an
 * execution does not wait for scheduling and container start. A request whose
 * limits or network differ from the pool's, or whose timeout the pod's
 * `activeDeadlineSeconds` would not cover, gets a cold pod. Each pod serves once.
 */
export class WarmPool<Pod extends WarmPod = WarmPod> {
  readonly #deps: WarmPoolDeps<Pod>;
  readonly #ready: Pod[] = [];
  readonly #starting = new Set<Promise<void>>();
  /** Names of pods the pool holds (starting or ready), not yet handed to a request. */
  readonly #owned = new Set<string>();
  readonly #maintenance: NodeJS.Timeout;
  #closed = false;
  #backoffUntil = 0;
  #failures = 0;

  constructor(deps: WarmPoolDeps<Pod>) {
    this.#deps = deps;
    this.#maintenance = setInterval(() => this.#expire(), Math.max(1000, Math.floor(deps.maxAgeMs / 4)));
    this.#maintenance.unref();
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /** Whether `request` can use a pool pod at all. */
  fits(request: NormalizedRequest): boolean {
    const { limits } = this.#deps;
    return (
      request.network.mode === 'none' &&
      request.limits.memoryBytes === limits.memoryBytes &&
      request.limits.cpus === limits.cpus &&
      request.limits.diskBytes === limits.diskBytes &&
      request.limits.pids === limits.pids
    );
  }

  /** Takes a ready pod for `request`, or undefined (then use a cold pod). Starts a refill either way. */
  take(request: NormalizedRequest): Pod | undefined {
    if (this.#closed || !this.fits(request)) return undefined;
    let taken: Pod | undefined;
    while (!taken && this.#ready.length > 0) {
      const pod = this.#ready.shift()!;
      const ageMs = performance.now() - pod.createdAt;
      const neededSeconds = (ageMs + request.timeoutMs) / 1000 + DEADLINE_GRACE_SECONDS / 2;
      this.#owned.delete(pod.name);
      if (ageMs < this.#deps.maxAgeMs && neededSeconds < pod.activeDeadlineSeconds) taken = pod;
      else void this.#deps.remove(pod);
    }
    this.fill();
    return taken;
  }

  /** Starts pods until ready + starting reaches the pool size (respecting the failure backoff). */
  fill(): void {
    if (this.#closed || performance.now() < this.#backoffUntil) return;
    while (this.#ready.length + this.#starting.size < this.#deps.size) {
      const name = `cordon-warm-${randomBytes(6).toString('hex')}`;
      this.#owned.add(name);
      debug('k8s.pool', () => `refill: starting pod ${name}`);
      const starting = this.#deps.start(name).then(
        (pod) => {
          this.#failures = 0;
          if (this.#closed) void this.#deps.remove(pod);
          else this.#ready.push(pod);
        },
        (error: unknown) => {
          this.#owned.delete(name);
          this.#failures += 1;
          const backoff = Math.min(60_000, 1000 * 2 ** Math.min(this.#failures, 6));
          this.#backoffUntil = performance.now() + backoff;
          debug('k8s.pool', () => `refill: pod ${name} failed, no refill for ${backoff} ms`, error);
          if (!this.#closed) this.#deps.onError(error);
        },
      );
      const tracked = starting.finally(() => this.#starting.delete(tracked));
      this.#starting.add(tracked);
    }
  }

  /** Whether the pool holds this pod (idle or starting): not a leftover while the pool is open. */
  owns(name: string): boolean {
    return this.#owned.has(name);
  }

  /** Resolves when the pool is full (or a start failed); for tests and benchmarks. */
  async settled(): Promise<void> {
    while (this.#starting.size > 0) await Promise.allSettled([...this.#starting]);
  }

  /** Stops refilling and removes every pool pod, including those still starting. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#maintenance);
    await Promise.allSettled([...this.#starting]);
    const pods = this.#ready.splice(0);
    this.#owned.clear();
    await Promise.allSettled(pods.map((pod) => this.#deps.remove(pod)));
  }

  #expire(): void {
    const now = performance.now();
    for (let i = this.#ready.length - 1; i >= 0; i--) {
      const pod = this.#ready[i]!;
      if (now - pod.createdAt >= this.#deps.maxAgeMs) {
        this.#ready.splice(i, 1);
        this.#owned.delete(pod.name);
        void this.#deps.remove(pod);
      }
    }
    this.fill();
  }
}
