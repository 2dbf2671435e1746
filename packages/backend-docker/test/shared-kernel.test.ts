import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');

/** Holds every inotify instance its uid may have (fs.inotify.max_user_instances), says how many, then waits. */
const EXHAUST_INOTIFY = `
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
held = []
while True:
    fd = libc.inotify_init1(0)
    if fd < 0:
        error = ctypes.get_errno()
        break
    held.append(fd)
print(f'holding {len(held)} inotify instances, then {os.strerror(error)}', flush=True)
time.sleep(60)
`;

const ONE_INOTIFY = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print('inotify: ' + ('ok' if fd >= 0 else os.strerror(ctypes.get_errno())))
`;

/** Issue 10, hole 6 and the low-severity identifiers: what tenants share with each other and the host. */
describe.runIf(available)('docker backend: what containers share', () => {
  let executor: DockerBackendExecutor;

  beforeAll(async () => {
    executor = await DockerBackendExecutor.create({ poolSize: 1, poolLanguages: 'python,bash' });
  });

  afterAll(async () => {
    await executor?.close();
    expect(await sessionContainers()).toEqual([]);
  });

  it("runs every container's program under a host uid of its own", async () => {
    const runs = await Promise.all(
      [1, 2, 3].map(() => executor.execute({ language: 'bash', code: 'id -u; id -g; stat -c %u /workspace' })),
    );
    const uids = runs.map((run) => run.stdout.split('\n')[0]!);
    expect(new Set(uids).size).toBe(3);
    for (const run of runs) {
      const [uid, gid, owner] = run.stdout.split('\n');
      expect(Number(uid)).toBeGreaterThanOrEqual(1_600_000_000);
      expect([gid, owner]).toEqual([uid, uid]);
    }
  });

  it('keeps a tenant that exhausts its inotify instances from starving the next one', async () => {
    const controller = new AbortController();
    let holding: () => void = () => undefined;
    const exhausted = new Promise<void>((resolve) => (holding = resolve));
    const hog = executor.execute({
      language: 'python',
      code: EXHAUST_INOTIFY,
      signal: controller.signal,
      onStdout: (chunk) => {
        if (chunk.includes('holding')) holding();
      },
    });
    try {
      await exhausted;
      const other = await executor.execute({ language: 'python', code: ONE_INOTIFY });
      expect(other.stdout).toBe('inotify: ok\n');
    } finally {
      controller.abort();
    }
    const result = await hog;
    expect(result.status).toBe('aborted');
    expect(result.stdout).toMatch(/^holding \d+ inotify instances, then Too many open files/);
  });

  it('shows no container id in /proc/self/cgroup, masks the boot id, and hands out no pseudo-terminal', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'cat /proc/self/cgroup; echo "boot id: [$(cat /proc/sys/kernel/random/boot_id)]"; python3 -c "import pty; pty.openpty()" 2>&1 | tail -1',
    });
    expect(result.status).toBe('ok');
    const lines = result.stdout.trim().split('\n');
    const cgroups = lines.filter((line) => /^\d+:/.test(line));
    expect(cgroups.length).toBeGreaterThan(0);
    // A private cgroup namespace: every hierarchy is "/" from inside.
    for (const line of cgroups) expect(line).toMatch(/^\d+:[^:]*:\/$/);
    expect(result.stdout).not.toMatch(/[0-9a-f]{64}/);
    const hostBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(result.stdout).not.toContain(hostBootId);
    expect(result.stdout).toContain('boot id: []');
    expect(lines.at(-1)).toMatch(/out of pty devices|No such file or directory/);
  });
});
