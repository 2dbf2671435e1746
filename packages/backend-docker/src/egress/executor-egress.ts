import { randomBytes } from 'node:crypto';
import { BackendFailureError, ExecutorClosedError } from '@cordon/core';
import { debug, ignored } from '@cordon/core/backend';
import { BACKEND_NAME } from '../backend-name.js';
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

  /**
   * The running broker, started when there is none or the last one died (its
   * container and volume are then removed in the background).
   * @throws BackendFailureError when it cannot start.
   */
  async broker(params: { executionId: string; signal?: AbortSignal }): Promise<BrokerContainer> {
    if (this.#closed) throw new ExecutorClosedError(BACKEND_NAME);
    const current = await this.#broker?.catch(() => undefined);
    if (current && !current.alive) {
      debug('docker.egress', () => `broker ${current.containerId} is gone; starting another`);
      void current.close().catch(ignored('docker.egress', 'remove a dead broker'));
      this.#broker = undefined;
    }
    this.#broker ??= BrokerContainer.start({ ...this.#params, ...(params.signal ? { signal: params.signal } : {}) });
    try {
      return await this.#broker;
    } catch (error) {
      this.#broker = undefined;
      params.signal?.throwIfAborted();
      throw new BackendFailureError(
        BACKEND_NAME,
        `the egress broker could not start (${error instanceof Error ? error.message : String(error)})`,
        { executionId: params.executionId },
        { cause: error },
      );
    }
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
