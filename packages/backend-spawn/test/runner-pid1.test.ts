import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runnerArgs, runnerEnv } from '../src/runner.js';

// The runner's `kill -1` reaches every process its uid may signal, which outside a PID
// namespace of its own (as root) is the whole machine. So it takes the host's word that
// it is PID 1 only when $$ agrees. Shown where even a broken check could do no harm: in a
// fresh PID namespace whose PID 1 is a shell, the runner being PID 2.
const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot)('the runner as PID 1', () => {
  it('refuses the PID-1 role when $$ is not 1 (exit 125, before anything else)', () => {
    const result = spawnSync(
      'unshare',
      ['--pid', '--kill-child', '--', '/bin/sh', '-c', '"$@"; echo "runner exit $?"', 'sh', ...runnerArgs('perl')],
      {
        env: { PATH: '/usr/bin:/bin', ...runnerEnv({ pidNamespaceInit: true }) },
        // A runner socket, so a runner that wrongly went on would say W and wait for a job (and time out) instead.
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    expect(result.stdout).toBe('runner exit 125\n');
  });
});
