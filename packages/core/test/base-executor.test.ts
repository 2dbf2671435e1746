import { describe, expect, it } from 'vitest';
import { BackendFailureError, ExecutorClosedError, IsolationRefusedError } from '../src/errors.js';
import type { ExecutionEndEvent, ExecutionStartEvent } from '../src/executor.js';
import { exited, ScriptedExecutor, untilStopped } from './support/scripted-executor.js';

const hello = { language: 'node', code: 'console.log(1)' } as const;

describe('BaseExecutor', () => {
  it('derives ok and error from the exit code and passes signals through', async () => {
    await using ok = new ScriptedExecutor(() => Promise.resolve(exited(0)));
    expect((await ok.execute(hello)).status).toBe('ok');
    await using three = new ScriptedExecutor(() => Promise.resolve(exited(3)));
    const failed = await three.execute(hello);
    expect(failed).toMatchObject({ status: 'error', exitCode: 3, signal: null, backend: 'scripted' });
    await using killed = new ScriptedExecutor(() =>
      Promise.resolve({ exitCode: null, signal: 'SIGTERM', oomKilled: false }),
    );
    expect(await killed.execute(hello)).toMatchObject({ status: 'error', exitCode: null, signal: 'SIGTERM' });
    await using oom = new ScriptedExecutor(() =>
      Promise.resolve({ exitCode: null, signal: 'SIGKILL', oomKilled: true }),
    );
    expect((await oom.execute(hello)).status).toBe('oom');
  });

  it('fires the run signal at timeoutMs and reports timeout', async () => {
    await using executor = new ScriptedExecutor(untilStopped);
    const started = performance.now();
    const result = await executor.execute({ ...hello, timeoutMs: 100 });
    expect(result.status).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('reports aborted when the caller aborts a running execution', async () => {
    await using executor = new ScriptedExecutor(untilStopped);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await executor.execute({ ...hello, signal: controller.signal })).status).toBe('aborted');
  });

  it('queues beyond maxConcurrency and lets a queued caller abort without running', async () => {
    let running = 0;
    let peak = 0;
    let runs = 0;
    await using executor = new ScriptedExecutor(
      async () => {
        runs++;
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 30));
        running--;
        return exited(0);
      },
      { maxConcurrency: 2 },
    );
    const controller = new AbortController();
    const first = [executor.execute(hello), executor.execute(hello), executor.execute(hello)];
    const abandoned = executor.execute({ ...hello, signal: controller.signal });
    controller.abort();
    const results = await Promise.all([...first, abandoned]);
    expect(peak).toBe(2);
    expect(runs).toBe(3);
    expect(results.map((result) => result.status)).toEqual(['ok', 'ok', 'ok', 'aborted']);
  });

  it('caps output per stream, flags truncation and still streams the kept part', async () => {
    const streamed: string[] = [];
    await using executor = new ScriptedExecutor((context) => {
      context.stdout.write(Buffer.from('x'.repeat(100)));
      context.stdout.write(Buffer.from('y'.repeat(100)));
      context.stderr.write(Buffer.from('short'));
      return Promise.resolve(exited(0));
    });
    const result = await executor.execute({
      ...hello,
      limits: { outputBytes: 150 },
      onStdout: (chunk) => streamed.push(chunk),
    });
    expect(result.stdout).toBe('x'.repeat(100) + 'y'.repeat(50));
    expect(result.stdoutTruncated).toBe(true);
    expect(result.stderr).toBe('short');
    expect(result.stderrTruncated).toBe(false);
    expect(streamed.join('')).toBe(result.stdout);
  });

  it('does not split a UTF-8 character across chunks', async () => {
    await using executor = new ScriptedExecutor((context) => {
      const bytes = Buffer.from('é€😀');
      for (const byte of bytes) context.stdout.write(Buffer.from([byte]));
      return Promise.resolve(exited(0));
    });
    expect((await executor.execute(hello)).stdout).toBe('é€😀');
  });

  it('emits start and end events with id, status and timings', async () => {
    await using executor = new ScriptedExecutor(() => Promise.resolve(exited(0)));
    const starts: ExecutionStartEvent[] = [];
    const ends: ExecutionEndEvent[] = [];
    executor.events.on('start', (event) => starts.push(event));
    executor.events.on('end', (event) => ends.push(event));
    const result = await executor.execute({ ...hello, tags: { tenant: 't1' } });
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ id: result.id, backend: 'scripted', language: 'node', tags: { tenant: 't1' } });
    expect(ends[0]).toMatchObject({ id: result.id, status: 'ok', exitCode: 0 });
    expect(result.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses advisory network isolation unless the caller accepts it, and then warns', async () => {
    let runs = 0;
    await using executor = new ScriptedExecutor(
      () => {
        runs++;
        return Promise.resolve(exited(0));
      },
      { capabilities: { network: 'advisory' } },
    );
    await expect(executor.execute(hello)).rejects.toBeInstanceOf(IsolationRefusedError);
    expect(runs).toBe(0);
    const open = await executor.execute({ ...hello, network: 'open' });
    expect(open.warnings).toEqual([]);
    const accepted = await executor.execute({ ...hello, acceptUnenforced: ['network'] });
    expect(accepted.warnings.join()).toMatch(/advisory/);
  });

  it('refuses a memory limit enforced only by rlimit, naming the guarantee', async () => {
    await using executor = new ScriptedExecutor(() => Promise.resolve(exited(0)), {
      capabilities: {
        limits: { memoryBytes: 'rlimit', cpus: 'none', pids: 'rlimit', outputBytes: 'streaming', diskBytes: 'tmpfs' },
      },
    });
    const error = await executor.execute(hello).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IsolationRefusedError);
    expect((error as IsolationRefusedError).guarantee).toBe('limits.memoryBytes');
    const result = await executor.execute({ ...hello, acceptUnenforced: ['memoryBytes', 'cpus'] });
    expect(result.warnings).toHaveLength(2);
  });

  it('rejects a language the backend does not offer', async () => {
    await using executor = new ScriptedExecutor(() => Promise.resolve(exited(0)), {
      capabilities: { languages: ['node'] },
    });
    await expect(executor.execute({ language: 'python', code: '' })).rejects.toMatchObject({
      name: 'InvalidRequestError',
      field: 'language',
    });
  });

  it('wraps a backend crash in BackendFailureError carrying the execution id', async () => {
    await using executor = new ScriptedExecutor(() => Promise.reject(new Error('EPIPE: daemon went away')));
    const ends: ExecutionEndEvent[] = [];
    executor.events.on('end', (event) => ends.push(event));
    const error = await executor.execute(hello).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackendFailureError);
    expect((error as BackendFailureError).executionId).toBe(ends[0]?.id);
    expect(ends[0]?.status).toBeUndefined();
  });

  it('close() aborts running executions, fails queued ones, disposes once, and refuses new work', async () => {
    const executor = new ScriptedExecutor(untilStopped, { maxConcurrency: 1 });
    const running = executor.execute(hello);
    const queued = executor.execute(hello);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([executor.close(), executor.close()]);
    expect((await running).status).toBe('aborted');
    await expect(queued).rejects.toBeInstanceOf(ExecutorClosedError);
    expect(executor.disposed).toBe(1);
    await expect(executor.execute(hello)).rejects.toBeInstanceOf(ExecutorClosedError);
  });

  it('waits in settled() and close() for tracked background work, which never rejects', async () => {
    const executor = new ScriptedExecutor(() => Promise.resolve(exited(0)));
    let finish!: () => void;
    let fail!: (error: Error) => void;
    const slow = executor.background(new Promise<void>((resolve) => (finish = resolve)));
    const failing = executor.background(new Promise<void>((_resolve, reject) => (fail = reject)));
    let settled = false;
    const settling = executor.settled().then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(false);
    fail(new Error('removal failed'));
    await expect(failing).resolves.toBeUndefined();
    expect(settled).toBe(false);
    finish();
    await settling;
    await expect(slow).resolves.toBeUndefined();
    let later!: () => void;
    void executor.background(new Promise<void>((resolve) => (later = resolve)));
    let closed = false;
    const closing = executor.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([closed, executor.disposed]).toEqual([false, 1]);
    later();
    await closing;
  });
});
