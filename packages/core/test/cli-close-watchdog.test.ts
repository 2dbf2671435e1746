import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { armCloseWatchdog, describeOpen, EXIT_CLOSE_HUNG } from '../src/cli/close-watchdog.js';

describe('the CLI close watchdog', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('exits with EXIT_CLOSE_HUNG, naming what is open, once the bound passes', () => {
    vi.useFakeTimers();
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    armCloseWatchdog({ command: 'conformance', afterMs: 5_000 });
    vi.advanceTimersByTime(4_999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit).toHaveBeenCalledWith(EXIT_CLOSE_HUNG);
    expect(written.join('')).toMatch(
      /^cordon conformance: the result is out, but the executor did not close within 5000 ms; still open: .+child process/,
    );
  });

  it('never keeps a process alive by itself (its timer is unref\u2019d)', () => {
    vi.useFakeTimers();
    const unref = vi.fn();
    const setTimeoutSpy = vi
      .spyOn(globalThis, 'setTimeout')
      .mockImplementation(() => ({ unref }) as unknown as NodeJS.Timeout);
    armCloseWatchdog({ command: 'run' });
    expect(setTimeoutSpy).toHaveBeenCalledOnce();
    expect(unref).toHaveBeenCalledOnce();
  });

  it.runIf(process.platform === 'linux')('names a child process still running, with its command line', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(describeOpen()).toContain(`pid ${child.pid} sleep 30`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
