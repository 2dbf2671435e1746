import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findHostProcesses } from '@cordon/core/conformance';
import { SandboxProcess } from '../src/sandbox-process.js';

// A killed sandbox whose pipes something else still holds (here a background sleep the
// stand-in left, outside any namespace or cgroup) must not make release(), and with it an
// executor's close, wait forever: the wait after SIGKILL is bounded.
describe('a killed sandbox whose pipes outlive it', () => {
  it('is released within the bound, not when the pipes close', async () => {
    const marker = `cordon-close-test-${randomBytes(6).toString('hex')}`;
    const sandbox = new SandboxProcess({
      id: 'stand-in',
      plan: {
        command: 'bash',
        // The background sleep inherits every pipe; the foreground one is what gets the SIGKILL.
        args: ['-c', `(exec -a ${marker} sleep 60) & exec sleep 60`],
        env: { PATH: '/usr/bin:/bin' },
        cwd: '/',
        statusFd: undefined,
        inputs: [],
        detached: false,
      },
      cgroup: Promise.resolve(undefined),
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(findHostProcesses([marker])).toHaveLength(1);
      const started = performance.now();
      await sandbox.release();
      const tookMs = performance.now() - started;
      // Without the bound this waits the minute the held pipes stay open.
      expect(tookMs).toBeGreaterThan(4_000);
      expect(tookMs).toBeLessThan(15_000);
    } finally {
      for (const { pid } of findHostProcesses([marker])) process.kill(pid, 'SIGKILL');
    }
  }, 30_000);
});
