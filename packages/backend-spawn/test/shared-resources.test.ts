import { readdirSync, readFileSync } from 'node:fs';
import { type ExecutionResult } from '@cordon/core';
import { SANDBOX_UID_RANGE, OWNER_ID } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { SHARED_CONTROL_UID } from '../src/sandbox-user.js';
import { PY_SYSCALL } from './helpers.js';

// Per-user kernel limits (inotify instances, POSIX message-queue bytes, pipe pages,
// pending signals) are counted per host uid: with a uid of its own, one sandbox
// exhausting them leaves the next tenant's untouched (issue 10, hole 6). The control
// runs the same pair on one fixed shared uid (outside the lease range, not 65534, so no
// other sandbox on this machine is starved by the test) and shows the probe does starve there.
const SHARED_UID = SHARED_CONTROL_UID;
const isRoot = process.getuid?.() === 0;
let perSandbox: SpawnExecutor;
let sharedUid: SpawnExecutor;

beforeAll(async () => {
  [perSandbox, sharedUid] = await Promise.all([
    SpawnExecutor.create({}),
    SpawnExecutor.create({ sandboxUid: SHARED_UID, sandboxGid: SHARED_UID }),
  ]);
});
afterAll(async () => {
  await Promise.all([perSandbox?.close(), sharedUid?.close()]);
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

interface Exhaustion {
  /** Takes the resource until it fails, prints HELD, and holds it. */
  hog: string;
  /** Takes one more and prints `ok` or the error. */
  tenant: string;
}

const INOTIFY: Exhaustion = {
  hog: `${PY_SYSCALL}\nimport time\nn = 0\nwhile libc.inotify_init1(0) >= 0: n += 1\nprint('HELD', n, flush=True)\ntime.sleep(60)`,
  tenant: `${PY_SYSCALL}\nr = libc.inotify_init1(0)\nprint('ok' if r >= 0 else os.strerror(ctypes.get_errno()))`,
};

const MQUEUE_PRELUDE = [
  PY_SYSCALL,
  'class Attr(ctypes.Structure): _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]',
  'attr = Attr(0, 10, 8192, 0)',
  'def mq(name): return libc.mq_open(name.encode(), os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(attr))',
].join('\n');

const MQUEUE: Exhaustion = {
  hog: `${MQUEUE_PRELUDE}\nimport time\nn = 0\nwhile mq('/hog%d' % n) >= 0: n += 1\nprint('HELD', n, os.strerror(ctypes.get_errno()), flush=True)\ntime.sleep(60)`,
  tenant: `${MQUEUE_PRELUDE}\nr = mq('/tenant')\nprint('ok' if r >= 0 else os.strerror(ctypes.get_errno()))`,
};

/** Runs the hog until it holds the resource, then the tenant beside it; ends the hog. */
async function tenantBesideHog(
  executor: SpawnExecutor,
  exhaustion: Exhaustion,
): Promise<{ hog: ExecutionResult; tenant: ExecutionResult }> {
  const stop = new AbortController();
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  let seen = '';
  const hogRun = executor.execute({
    language: 'python',
    code: exhaustion.hog,
    signal: stop.signal,
    onStdout: (chunk) => {
      seen += Buffer.from(chunk).toString();
      if (seen.includes('HELD')) held();
    },
  });
  void hogRun.finally(() => held());
  await holding;
  try {
    const tenant = await executor.execute({ language: 'python', code: exhaustion.tenant });
    return { hog: await (stop.abort(), hogRun), tenant };
  } finally {
    stop.abort();
  }
}

describe.runIf(isRoot)('shared per-user kernel limits: a host uid of its own per sandbox', () => {
  it.each([
    ['inotify instances', INOTIFY],
    ['message-queue bytes', MQUEUE],
  ] as const)('one sandbox exhausting %s leaves the other its own', async (_name, exhaustion) => {
    const { hog, tenant } = await tenantBesideHog(perSandbox, exhaustion);
    expect(hog.stdout).toMatch(/^HELD [1-9]/);
    expect(tenant.stdout).toBe('ok\n');
  });

  it.each([
    ['inotify instances', INOTIFY],
    ['message-queue bytes', MQUEUE],
  ] as const)('control: with one fixed shared uid, %s run out for the other', async (_name, exhaustion) => {
    const { hog, tenant } = await tenantBesideHog(sharedUid, exhaustion);
    expect(hog.stdout).toMatch(/^HELD [1-9]/);
    expect(tenant.stdout).toBe('Too many open files\n');
  });

  it('each sandbox runs as a host uid of its own, from the sandbox uid range', async () => {
    const stop = new AbortController();
    let ready = 0;
    let bothReady!: () => void;
    const both = new Promise<void>((resolve) => (bothReady = resolve));
    const runs = [0, 1].map(() =>
      perSandbox.execute({
        language: 'bash',
        code: 'echo READY; sleep 30',
        signal: stop.signal,
        onStdout: () => ++ready === 2 && bothReady(),
      }),
    );
    await both;
    // bubblewrap runs on the host as the sandbox user, tagged with the execution's marker.
    const uids = new Set<number>();
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      const environ = readFileSafe(`/proc/${pid}/environ`);
      if (!environ.includes(`CORDON_SPAWN_OWNER=${OWNER_ID}/`)) continue;
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSafe(`/proc/${pid}/status`))?.[1];
      if (uid !== undefined) uids.add(Number(uid));
    }
    stop.abort();
    await Promise.all(runs);
    expect(uids.size).toBe(2);
    for (const uid of uids) expect(uid).toBeGreaterThanOrEqual(SANDBOX_UID_RANGE.first);
  });
});

describe('kernel-wide resources', () => {
  it('no pseudo-terminals: /dev/ptmx cannot be opened (every devpts shares kernel.pty.max)', async () => {
    const result = await perSandbox.execute({
      language: 'python',
      code: "import os\ntry:\n    os.openpty(); print('PTY')\nexcept OSError as e:\n    print('no pty', e.errno)",
    });
    expect(result.stdout).toMatch(/^no pty \d+\n$/);
  });

  it('/dev/shm is bounded by diskBytes and usable; /dev itself is read-only', async () => {
    const result = await perSandbox.execute({
      language: 'bash',
      code: [
        'head -c 3000000 /dev/zero > /dev/shm/big 2>/dev/null && echo SHM_UNBOUNDED || echo shm-bounded',
        'rm -f /dev/shm/big',
        'python3 -c \'from multiprocessing import shared_memory as s; m = s.SharedMemory(create=True, size=4096); m.buf[0] = 1; print("shm-usable"); m.close(); m.unlink()\'',
        'touch /dev/x 2>/dev/null && echo DEV_WRITABLE || echo dev-readonly',
      ].join('\n'),
      limits: { diskBytes: 2 * 1024 * 1024 },
    });
    expect(result.stdout).toBe('shm-bounded\nshm-usable\ndev-readonly\n');
  });
});
