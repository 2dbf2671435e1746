import { randomBytes } from 'node:crypto';
import { debug } from '@cordon/core/backend';
import { EGRESS_MOUNT } from '../container-spec.js';
import type { DockerApi } from '../docker-api.js';
import { BrokerContainer } from './broker-container.js';

/** One execution's place on the broker: its session key, and the socket's path inside the sandbox. */
export interface EgressSlot {
  readonly key: string;
  readonly socket: string;
}

/**
 * An executor's allow-list machinery: its broker container, started on the first
 * allow-list execution (an executor that never runs one starts none) and shared by
 * all of them, each with a session of its own. A broker that failed to start is
 * tried again by the next execution; the failure is that execution's error.
 */
export class ExecutorEgress implements AsyncDisposable {
  readonly #params: { api: DockerApi; image: string; executorId: string };
  #broker: Promise<BrokerContainer> | undefined;
  #closed = false;

  constructor(params: { api: DockerApi; image: string; executorId: string }) {
    this.#params = params;
  }

  /**
   * A fresh slot: 128 random bits, so a sandbox of another execution cannot name this
   * one's directory even where executions share a uid (and with it a group).
   */
  static newSlot(): EgressSlot {
    const key = randomBytes(16).toString('hex');
    return { key, socket: `${EGRESS_MOUNT}/${key}/broker.sock` };
  }

  broker(signal?: AbortSignal): Promise<BrokerContainer> {
    if (this.#closed) return Promise.reject(new Error('the executor is closed'));
    this.#broker ??= BrokerContainer.start({ ...this.#params, ...(signal ? { signal } : {}) }).catch(
      (error: unknown) => {
        this.#broker = undefined;
        throw error;
      },
    );
    return this.#broker;
  }

  /** Stops the broker (every session ends) and removes its container and volume; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const broker = await this.#broker?.catch((error: unknown) => {
      debug('docker.egress', () => 'the broker never started', error);
      return undefined;
    });
    await broker?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
