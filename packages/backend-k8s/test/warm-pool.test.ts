import { DEFAULT_LIMITS, parseExecutionRequest } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { WarmPool, type WarmPod } from '../src/warm-pool.js';

function pool(size: number, options: { failStart?: boolean; maxAgeMs?: number } = {}) {
  const started: string[] = [];
  const removed: string[] = [];
  const errors: unknown[] = [];
  const warm = new WarmPool({
    size,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    limits: { ...DEFAULT_LIMITS },
    start: (name) => {
      started.push(name);
      if (options.failStart) return Promise.reject(new Error('image missing'));
      const pod: WarmPod = { name, namespace: 'ns', createdAt: performance.now(), activeDeadlineSeconds: 660 };
      return Promise.resolve(pod);
    },
    remove: (pod) => {
      removed.push(pod.name);
      return Promise.resolve();
    },
    onError: (error) => errors.push(error),
  });
  return { warm, started, removed, errors };
}

describe('WarmPool', () => {
  it('fills to its size, hands each pod out once, and refills', async () => {
    const { warm, started } = pool(2);
    warm.fill();
    await warm.settled();
    expect(warm.readyCount).toBe(2);
    const request = parseExecutionRequest({ language: 'node', code: '1' });
    const first = warm.take(request)!;
    expect(warm.owns(first.name)).toBe(false);
    await warm.settled();
    expect(warm.readyCount).toBe(2);
    expect(started).toHaveLength(3);
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
    expect(warm.readyCount).toBe(1);
    // A timeout the pod's activeDeadlineSeconds (660 s) would not cover: the pod is dropped, not used.
    expect(warm.take(parseExecutionRequest({ language: 'node', code: '1', timeoutMs: 700_000 }))).toBeUndefined();
    await warm.close();
  });

  it('backs off after a failed start and reports the error', async () => {
    const { warm, started, errors } = pool(2, { failStart: true });
    warm.fill();
    await warm.settled();
    expect(errors).toHaveLength(2);
    warm.fill();
    await warm.settled();
    expect(started).toHaveLength(2);
    await warm.close();
  });

  it('removes every idle pod on close and starts no more', async () => {
    const { warm, removed, started } = pool(2);
    warm.fill();
    await warm.settled();
    await warm.close();
    expect(removed).toHaveLength(2);
    warm.fill();
    expect(started).toHaveLength(2);
  });
});
