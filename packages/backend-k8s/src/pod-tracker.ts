import type { KubeApi } from './kube-api.js';
import { deletePod } from './pod-lifecycle.js';
import { debug } from '@cordon/core/backend';

/** A pod by its coordinates. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * An executor's record of the pods it made and has not seen deleted, and of the
 * deletions under way, so `close()` and `settled()` can wait for them and retry
 * what failed.
 */
export class PodTracker {
  readonly #api: KubeApi;
  readonly #pods = new Map<string, PodRef>();
  readonly #deletions = new Set<Promise<void>>();

  constructor(api: KubeApi) {
    this.#api = api;
  }

  /** Records a pod before it is created, so a crash between create and record cannot leak it. */
  add(pod: PodRef): void {
    this.#pods.set(key(pod), { namespace: pod.namespace, name: pod.name });
  }

  /** Deletes a pod in the background, tracked until done; never throws. */
  remove(pod: PodRef): Promise<void> {
    const deletion = this.delete(pod);
    this.#deletions.add(deletion);
    void deletion.finally(() => this.#deletions.delete(deletion));
    return deletion;
  }

  /** Deletes a pod now (untracked); never throws. A pod whose deletion failed stays recorded for a retry. */
  async delete(pod: PodRef): Promise<void> {
    try {
      await deletePod(this.#api, pod.namespace, pod.name);
      this.#pods.delete(key(pod));
    } catch (error) {
      // Kept: removeAll() tries again, and the reaper of a later owner would find it.
      debug('k8s.tracker', () => `delete pod ${pod.namespace}/${pod.name} (kept for a retry)`, error);
    }
  }

  /** Resolves once no tracked deletion is under way. */
  async settled(): Promise<void> {
    while (this.#deletions.size > 0) await Promise.allSettled([...this.#deletions]);
  }

  /** Waits for the deletions under way, then deletes every pod still recorded. */
  async removeAll(): Promise<void> {
    await Promise.allSettled([...this.#deletions]);
    await Promise.allSettled([...this.#pods.values()].map((pod) => this.delete(pod)));
  }
}

function key(pod: PodRef): string {
  return `${pod.namespace}/${pod.name}`;
}
