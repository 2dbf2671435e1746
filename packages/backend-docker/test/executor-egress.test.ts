import { BackendFailureError, ExecutorClosedError } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import type { DockerApi } from '../src/docker-api.js';
import { ExecutorEgress } from '../src/egress/executor-egress.js';

/** A daemon that refuses the broker's volume: every other call would be a mistake here. */
function refusingApi(calls: string[]): DockerApi {
  return {
    createVolume: (params: { name: string }) => {
      calls.push(`createVolume ${params.name}`);
      return Promise.reject(new Error('no space left on device'));
    },
    removeVolume: (name: string) => {
      calls.push(`removeVolume ${name}`);
      return Promise.resolve();
    },
  } as unknown as DockerApi;
}

describe('an executor’s egress broker', () => {
  it('fails an execution with a typed error naming it when the broker cannot start, and tries again next time', async () => {
    const calls: string[] = [];
    const egress = new ExecutorEgress({ api: refusingApi(calls), image: 'cordon-runtime:test', executorId: 'e1' });
    const first = egress.broker({ executionId: 'exec-1' });
    await expect(first).rejects.toBeInstanceOf(BackendFailureError);
    const error = (await first.catch((caught: unknown) => caught)) as BackendFailureError;
    expect(error.executionId).toBe('exec-1');
    expect(error.message).toContain('the egress broker could not start (no space left on device)');
    await expect(egress.broker({ executionId: 'exec-2' })).rejects.toMatchObject({ executionId: 'exec-2' });
    expect(calls.filter((call) => call.startsWith('createVolume'))).toHaveLength(2);
    await egress.close();
    await expect(egress.broker({ executionId: 'exec-3' })).rejects.toBeInstanceOf(ExecutorClosedError);
  });

  it('gives each slot 128 random bits, and the socket under the shared mount', () => {
    const a = ExecutorEgress.newSlot();
    const b = ExecutorEgress.newSlot();
    expect(a.key).toMatch(/^[0-9a-f]{32}$/);
    expect(a.key).not.toBe(b.key);
    expect(a.socket).toBe(`/egress/${a.key}/broker.sock`);
  });
});
