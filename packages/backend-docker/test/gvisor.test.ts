import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import { NODE_WRITESYNC_FORGERY, PYTHON_FRAME_FORGERY } from './support/forgery.js';

const available = await dockerTier('gvisor', { runtime: 'runsc' });

describe.runIf(available)('docker backend under gVisor (runtime runsc)', () => {
  let executor: DockerBackendExecutor;

  beforeAll(async () => {
    executor = await DockerBackendExecutor.create({ runtime: 'runsc', poolSize: 1, poolLanguages: 'node' });
  });

  afterAll(async () => {
    await executor?.close();
    expect(await sessionContainers()).toEqual([]);
  });

  it('runs inside the gVisor kernel, in all three languages', async () => {
    const node = await executor.execute({ language: 'bash', code: 'dmesg 2>/dev/null | head -1; uname -r' });
    expect(node.status).toBe('ok');
    expect(node.stdout).toMatch(/gVisor|4\.4\.0/);
    for (const language of ['node', 'python'] as const) {
      const result = await executor.execute({
        language,
        code: language === 'node' ? 'console.log(6*7)' : 'print(6*7)',
      });
      expect(result).toMatchObject({ status: 'ok', stdout: '42\n' });
    }
  });

  it('keeps the hardening, the limits and the timeout', async () => {
    const hardened = await executor.execute({
      language: 'bash',
      code: 'id -u; ls /sys/class/net 2>/dev/null | tr "\\n" " "; touch /etc/x 2>/dev/null && echo rw || echo ro',
    });
    expect(Number(hardened.stdout.split('\n')[0])).toBeGreaterThanOrEqual(1_600_000_000);
    expect(hardened.stdout).toContain('ro');
    const timeout = await executor.execute({ language: 'node', code: 'setInterval(() => {}, 1000)', timeoutMs: 1500 });
    expect(timeout.status).toBe('timeout');
    const oom = await executor.execute({
      language: 'node',
      code: 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))',
      limits: { memoryBytes: 64 * 1024 * 1024 },
      timeoutMs: 30_000,
    });
    expect(oom.status).toBe('oom');
  });

  it("reports the supervisor's view of the exit, whatever the program forges (issue 10, hole 3)", async () => {
    const python = await executor.execute({ language: 'python', code: PYTHON_FRAME_FORGERY, collectFiles: ['**'] });
    expect(python.stdout).toMatch(/frame nonce: not found/);
    expect(python).toMatchObject({ status: 'error', exitCode: 9 });
    expect(python.files.map((file) => file.path)).toEqual(['main.py']);
    const node = await executor.execute({ language: 'node', code: NODE_WRITESYNC_FORGERY, collectFiles: ['**'] });
    expect(node).toMatchObject({ status: 'error', exitCode: 9 });
    expect(node.files.map((file) => file.path)).toEqual(['main.js']);
  });

  it('contains a fork bomb with the PID limit (RLIMIT_NPROC in the gVisor kernel)', async () => {
    const result = await executor.execute({
      language: 'python',
      code: [
        'import os',
        'forked, stopped = 0, "nothing"',
        'for i in range(150):',
        '    try:',
        '        pid = os.fork()',
        '    except OSError as e:',
        '        stopped = e.strerror',
        '        break',
        '    if pid == 0:',
        '        os.execv("/bin/sleep", ["sleep", "20"])',
        '    forked += 1',
        'print(forked, stopped)',
      ].join('\n'),
      limits: { pids: 32 },
      timeoutMs: 15_000,
    });
    expect(result.status).toBe('ok');
    const [forked, ...stopped] = result.stdout.trim().split(' ');
    expect(Number(forked)).toBeGreaterThan(8);
    // RLIMIT_NPROC holds the program's uid (and only it: the root supervisor is not counted) at limits.pids.
    expect(Number(forked)).toBeLessThanOrEqual(32);
    expect(stopped.join(' ')).toBe('Resource temporarily unavailable');
  });
});
