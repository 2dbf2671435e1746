import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WarmPool, type WarmPoolParams } from '../src/backend/warm-pool.js';
import { parseExecutionRequest, type ExecutionRequest } from '../src/request.js';

type Kind = 'node' | 'python';

class Member {
  alive = true;
  readonly ended: Promise<void>;
  end!: () => void;
  constructor(
    readonly id: string,
    readonly kind: Kind,
  ) {
    this.ended = new Promise((resolve) => (this.end = resolve));
  }
}

interface Pending {
  readonly kind: Kind;
  resolve(): void;
  reject(error: unknown): void;
}

/** A pool over fake members whose starts the test resolves (manual) or that resolve at once (auto). */
function harness(
  params: Partial<WarmPoolParams<Member, Kind>> & { manual?: boolean; failing?: () => Error | undefined } = {},
) {
  const { manual = false, failing, ...rest } = params;
  const started: Kind[] = [];
  const discarded: string[] = [];
  const pending: Pending[] = [];
  const errors: [unknown, Kind][] = [];
  const members: Member[] = [];
  const pool = new WarmPool<Member, Kind>({
    area: 'test.pool',
    size: 2,
    keys: ['node', 'python'],
    keyFor: (request) =>
      request.network.mode === 'none' ? (request.language === 'python' ? 'python' : 'node') : undefined,
    start: (kind) => {
      started.push(kind);
      const member = new Member(`${kind}-${members.length + 1}`, kind);
      members.push(member);
      const error = failing?.();
      if (error) return Promise.reject(error);
      if (!manual) return Promise.resolve(member);
      return new Promise<Member>((resolve, reject) => pending.push({ kind, resolve: () => resolve(member), reject }));
    },
    discard: (member) => {
      discarded.push(member.id);
    },
    onRefillError: (error, kind) => errors.push([error, kind]),
    ...rest,
  });
  return { pool, started, discarded, pending, errors, members };
}

const request = (input: Partial<ExecutionRequest> = {}) =>
  parseExecutionRequest({ language: 'node', code: '1', ...input });

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('WarmPool', () => {
  it('fills every key to its size, hands each member out once, and refills', async () => {
    const { pool, started } = harness();
    expect(pool.idleIds().size).toBe(0);
    pool.fill();
    await pool.settled();
    expect([...pool.idleIds()].sort()).toEqual(['node-1', 'node-2', 'python-3', 'python-4']);
    const first = pool.take(request())!;
    expect(first.id).toBe('node-1');
    expect(pool.owns('node-1')).toBe(false);
    expect(pool.owns('node-2')).toBe(true);
    await pool.settled();
    expect(pool.idleIds().size).toBe(4);
    expect(started).toEqual(['node', 'node', 'python', 'python', 'node']);
    expect(pool.take(request({ language: 'bash' }))!.id).toBe('node-2');
    expect(pool.take(request({ language: 'python' }))!.kind).toBe('python');
    await pool.close();
  });

  it('gives a request that does not fit undefined (a cold start) and starts nothing for it', async () => {
    const { pool, started } = harness();
    pool.fill();
    await pool.settled();
    const open = request({ network: 'open' });
    expect(pool.fits(open)).toBe(false);
    expect(pool.fits(request())).toBe(true);
    expect(pool.take(open)).toBeUndefined();
    await pool.settled();
    expect(started).toHaveLength(4);
    expect(pool.idleIds().size).toBe(4);
    await pool.close();
  });

  it('discards a member the request cannot use at take, and refills', async () => {
    const { pool, discarded } = harness({
      keys: ['node'],
      usableFor: (member, req) => req.timeoutMs < 60_000 || member.id !== 'node-1',
    });
    pool.fill();
    await pool.settled();
    expect(pool.take(request({ timeoutMs: 120_000 }))!.id).toBe('node-2');
    expect(discarded).toEqual(['node-1']);
    await pool.settled();
    expect([...pool.idleIds()]).toEqual(['node-3', 'node-4']);
    expect(pool.take(request())?.id).toBe('node-3');
    await pool.close();
  });

  it('skips members that are no longer alive', async () => {
    const { pool, discarded, members } = harness({ keys: ['node'] });
    pool.fill();
    await pool.settled();
    members[0]!.alive = false;
    expect(pool.take(request())!.id).toBe('node-2');
    expect(discarded).toEqual(['node-1']);
    await pool.close();
  });

  it('evicts an idle member whose ended resolves, and replaces it', async () => {
    const { pool, discarded, members } = harness({ keys: ['node'], size: 1 });
    pool.fill();
    await pool.settled();
    members[0]!.end();
    await vi.advanceTimersByTimeAsync(0);
    await pool.settled();
    expect(discarded).toEqual(['node-1']);
    expect([...pool.idleIds()]).toEqual(['node-2']);
    // A taken member that ends is not the pool's business any more.
    const taken = pool.take(request())!;
    taken.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(discarded).toEqual(['node-1']);
    await pool.close();
  });

  it('expires idle members at max age (maintenance) and on take', async () => {
    const { pool, discarded } = harness({ keys: ['node'], size: 1, maxAgeMs: 1000 });
    pool.fill();
    await pool.settled();
    // The maintenance interval (max(1 s, maxAge / 4)) drops node-1 at 1 s and starts node-2.
    await vi.advanceTimersByTimeAsync(1000);
    await pool.settled();
    expect(discarded).toEqual(['node-1']);
    expect([...pool.idleIds()]).toEqual(['node-2']);
    await pool.close();
  });

  it('discards a member past max age at take, between two maintenance ticks', async () => {
    const { pool, discarded } = harness({ keys: ['node'], size: 1, maxAgeMs: 1000 });
    // Started at 0.1 s: the 1 s tick keeps it (0.9 s old); at 1.15 s it is past max age.
    await vi.advanceTimersByTimeAsync(100);
    pool.fill();
    await pool.settled();
    await vi.advanceTimersByTimeAsync(1050);
    expect(discarded).toEqual([]);
    expect(pool.take(request())).toBeUndefined();
    expect(discarded).toEqual(['node-1']);
    await pool.settled();
    expect([...pool.idleIds()]).toEqual(['node-2']);
    await pool.close();
  });

  it('backs off exponentially up to the cap, keeps the last error visible, and clears it on success', async () => {
    let fail = true;
    const { pool, started, errors } = harness({
      keys: ['node'],
      size: 1,
      backoff: { initialMs: 1000, maxMs: 4000 },
      failing: () => (fail ? new Error('daemon down') : undefined),
    });
    pool.fill();
    await pool.settled();
    expect(started).toHaveLength(1);
    expect(pool.refillError).toEqual(new Error('daemon down'));
    expect(errors).toEqual([[new Error('daemon down'), 'node']]);
    // A take during the backoff gets a cold start and does not hammer the failing API.
    expect(pool.take(request())).toBeUndefined();
    await pool.settled();
    expect(started).toHaveLength(1);
    const startsAt = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      return started.length;
    };
    // Retries after 1 s, 2 s, 4 s, then 4 s again (the cap).
    expect(await startsAt(999)).toBe(1);
    expect(await startsAt(1)).toBe(2);
    expect(await startsAt(1999)).toBe(2);
    expect(await startsAt(1)).toBe(3);
    expect(await startsAt(3999)).toBe(3);
    expect(await startsAt(1)).toBe(4);
    expect(await startsAt(3999)).toBe(4);
    expect(await startsAt(1)).toBe(5);
    fail = false;
    expect(await startsAt(4000)).toBe(6);
    await pool.settled();
    expect(pool.refillError).toBeUndefined();
    expect(pool.idleIds().size).toBe(1);
    // The backoff starts over after a success.
    fail = true;
    pool.take(request());
    await pool.settled();
    expect(started).toHaveLength(7);
    expect(await startsAt(1000)).toBe(8);
    await pool.close();
  });

  it('backs off per key: a failing key does not hold up the others', async () => {
    const { pool, errors } = harness({
      size: 1,
      backoff: { initialMs: 1000, maxMs: 1000 },
      start: (kind) =>
        kind === 'python' ? Promise.reject(new Error('no python image')) : Promise.resolve(new Member('n', kind)),
    });
    pool.fill();
    await pool.settled();
    expect([...pool.idleIds()]).toEqual(['n']);
    expect(errors.map(([, kind]) => kind)).toEqual(['python']);
    expect(pool.refillError).toEqual(new Error('no python image'));
    await pool.close();
  });

  it('without backoff, retries a failed key only on its next take', async () => {
    let fail = true;
    const { pool, started } = harness({
      keys: ['node'],
      size: 1,
      failing: () => (fail ? new Error('no sandbox') : undefined),
    });
    pool.fill();
    await pool.settled();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(started).toHaveLength(1);
    fail = false;
    expect(pool.take(request())).toBeUndefined();
    await pool.settled();
    expect(started).toHaveLength(2);
    expect(pool.idleIds().size).toBe(1);
    expect(pool.refillError).toBeUndefined();
    await pool.close();
  });

  it('counts a start that throws at once as a failed start', async () => {
    const { pool, errors } = harness({
      keys: ['node'],
      size: 1,
      start: () => {
        throw new Error('sync');
      },
    });
    pool.fill();
    await pool.settled();
    expect(errors).toEqual([[new Error('sync'), 'node']]);
    await pool.close();
  });

  it('starts one at a time with startConcurrency 1 (serial fill)', async () => {
    const { pool, pending, started } = harness({ size: 3, startConcurrency: 1, manual: true });
    pool.fill();
    let done = false;
    void pool.settled().then(() => (done = true));
    for (let i = 0; i < 6; i++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(pending).toHaveLength(1);
      expect(started).toHaveLength(i + 1);
      expect(done).toBe(false);
      pending.shift()!.resolve();
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    expect(started).toEqual(['node', 'node', 'node', 'python', 'python', 'python']);
    expect(pool.idleIds().size).toBe(6);
    await pool.close();
  });

  it('on close stops refilling, waits for starts in flight and discards them and every idle member', async () => {
    const { pool, pending, started, discarded } = harness({ keys: ['node'], manual: true, maxAgeMs: 1000 });
    pool.fill();
    pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.idleIds().size).toBe(1);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    expect(pool.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false);
    pending.shift()!.resolve();
    await closing;
    expect(discarded.sort()).toEqual(['node-1', 'node-2']);
    expect(pool.idleIds().size).toBe(0);
    expect(pool.take(request())).toBeUndefined();
    pool.fill();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(started).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('closes with await using and cancels a pending retry', async () => {
    const { pool, started, errors, pending } = harness({
      keys: ['node'],
      size: 1,
      manual: true,
      backoff: { initialMs: 1000, maxMs: 1000 },
    });
    {
      await using disposable = pool;
      disposable.fill();
      pending.shift()!.reject(new Error('first'));
      await vi.advanceTimersByTimeAsync(0);
      expect(errors).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(1);
    }
    expect(pool.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(started).toHaveLength(1);
  });

  it('waits for discards in settled() and logs a discard that fails', async () => {
    let finish!: () => void;
    const { pool } = harness({
      keys: ['node'],
      size: 1,
      discard: () =>
        new Promise<void>((_resolve, reject) => {
          finish = () => reject(new Error('remove failed'));
        }),
    });
    pool.fill();
    await pool.settled();
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false);
    finish();
    await closing;
    expect(closed).toBe(true);
  });
});
