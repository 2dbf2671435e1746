import { parseExecutionRequest } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { warmPodPool, type WarmPodFacts } from '../src/warm-pods.js';

interface FakePod extends WarmPodFacts {
  readonly name: string;
}

function pool(size: number, options: { failStart?: boolean; maxAgeMs?: number } = {}) {
  const started: string[] = [];
  const removed: string[] = [];
  let count = 0;
  const warm = warmPodPool<FakePod>({
    size,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    start: (kind) => {
      const name = `cordon-warm-${kind}-${++count}`;
      started.push(name);
      if (options.failStart) return Promise.reject(new Error('image missing'));
      return Promise.resolve({ id: name, name, createdAt: performance.now(), activeDeadlineSeconds: 660 });
    },
    remove: (pod) => {
      removed.push(pod.name);
      return Promise.resolve();
    },
  });
  return { warm, started, removed };
}

/** Ready pods of the node runner (the pool also keeps python ones). */
function readyNode(warm: ReturnType<typeof pool>['warm']): number {
  return [...warm.idleIds()].filter((id) => id.includes('-node-')).length;
}

describe('warm pod pool', () => {
  it('fills to its size, hands each pod out once, and refills', async () => {
    const { warm, started } = pool(2);
    warm.fill();
    await warm.settled();
    expect(readyNode(warm)).toBe(2);
    const request = parseExecutionRequest({ language: 'node', code: '1' });
    const first = warm.take(request)!;
    expect(warm.owns(first.name)).toBe(false);
    await warm.settled();
    expect(readyNode(warm)).toBe(2);
    expect(started.filter((name) => name.includes('-node-'))).toHaveLength(3);
    const second = warm.take(request)!;
    expect(second.name).not.toBe(first.name);
    await warm.close();
  });

  it('gives requests with other limits, open network or a long timeout no pool pod', async () => {
    const { warm } = pool(1);
    warm.fill();
    await warm.settled();
    expect(
      warm.take(parseExecutionRequest({ language: 'node', code: '1', limits: { memoryBytes: 64 * 1024 * 1024 } })),
    ).toBeUndefined();
    expect(warm.take(parseExecutionRequest({ language: 'node', code: '1', limits: { pids: 32 } }))).toBeUndefined();
    expect(warm.take(parseExecutionRequest({ language: 'node', code: '1', network: 'open' }))).toBeUndefined();
    expect(readyNode(warm)).toBe(1);
    // A timeout the pod's activeDeadlineSeconds (660 s) would not cover: the pod is dropped, not used.
    expect(warm.take(parseExecutionRequest({ language: 'node', code: '1', timeoutMs: 700_000 }))).toBeUndefined();
    await warm.close();
  });

  it('serves bash from the node pods and python from its own', async () => {
    const { warm } = pool(1);
    warm.fill();
    await warm.settled();
    expect(warm.take(parseExecutionRequest({ language: 'bash', code: 'true' }))?.name).toContain('-node-');
    expect(warm.take(parseExecutionRequest({ language: 'python', code: '1' }))?.name).toContain('-python-');
    await warm.close();
  });

  it('backs off after a failed start and reports the error', async () => {
    const { warm, started } = pool(2, { failStart: true });
    warm.fill();
    await warm.settled();
    expect(warm.refillError).toEqual(new Error('image missing'));
    // Two per runner kind, then no more until the backoff has passed.
    expect(started).toHaveLength(4);
    warm.fill();
    await warm.settled();
    expect(started).toHaveLength(4);
    await warm.close();
  });

  it('removes every idle pod on close and starts no more', async () => {
    const { warm, removed, started } = pool(2);
    warm.fill();
    await warm.settled();
    await warm.close();
    expect(removed).toHaveLength(4);
    warm.fill();
    expect(started).toHaveLength(4);
  });
});
