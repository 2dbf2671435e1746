import type { ExecutionResult } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { executeOnce } from '../src/backend-candidates.js';
import { closeWithin, MISSED, withDeadline } from '../src/deadline.js';
import { scenario } from '../src/scenarios.js';

const never = () => new Promise<never>(() => undefined);

function okResult(stdout: string): ExecutionResult {
  return {
    id: 'x',
    status: 'ok',
    exitCode: 0,
    signal: null,
    stdout,
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    files: [],
    filesTruncated: false,
    durationMs: 1,
    queuedMs: 0,
    backend: 'fake',
    warnings: [],
  };
}

describe('withDeadline', () => {
  it('passes a value through, or gives MISSED when the promise outlives the deadline', async () => {
    expect(await withDeadline(Promise.resolve(7), 1_000)).toBe(7);
    expect(await withDeadline(never(), 20)).toBe(MISSED);
  });
});

describe('executeOnce', () => {
  const node = scenario('node-hello');

  it('counts an execution that never returns as hung, instead of hanging the run', async () => {
    const sample = await executeOnce({ execute: never }, node, { timeoutMs: 10, graceMs: 20 });
    expect(sample).toMatchObject({ ok: false, hung: true });
    expect(sample.problem).toContain('did not return');
  });

  it('checks the output and wraps a thrown error as a failed sample', async () => {
    expect(await executeOnce({ execute: () => Promise.resolve(okResult('1\n')) }, node)).toMatchObject({ ok: true });
    expect(await executeOnce({ execute: () => Promise.resolve(okResult('2\n')) }, node)).toMatchObject({ ok: false });
    const thrown = await executeOnce({ execute: () => Promise.reject(new Error('daemon went away')) }, node);
    expect(thrown).toMatchObject({ ok: false, problem: 'daemon went away' });
  });
});

describe('closeWithin', () => {
  it('says when close() hangs or fails, and nothing when it closes', async () => {
    expect(await closeWithin({ name: 'fake', close: () => Promise.resolve() }, 1_000)).toBeUndefined();
    expect(await closeWithin({ name: 'fake', close: never }, 20)).toContain('did not finish');
    expect(await closeWithin({ name: 'fake', close: () => Promise.reject(new Error('boom')) }, 1_000)).toContain(
      'boom',
    );
  });
});
