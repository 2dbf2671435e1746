import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { findOnPath } from '../../src/conformance/on-host.js';

/** Every run of the unisolated executor runs as this one uid when the test runs as root: the per-user probes exhaust it, never root. */
export const UNISOLATED_UID = 1_599_999_998;
/** Terminals in the one devpts instance all its runs share: the pty probe exhausts these, never the host's own. */
export const UNISOLATED_PTY_MAX = 64;
/** Root's powers stay (the existing probes must still get out), except what lets a process pass per-user limits. */
const KEPT_CAPS = '+all,-sys_resource,-sys_admin';

/** Joins the shared cgroup, mounts the shared devpts over the run's own /dev/pts, then runs the program. */
const ENTER = `cg=$1; pts=$2; shift 2
if [ -n "$cg" ]; then echo $$ > "$cg/cgroup.procs" || exit 98; fi
mount --bind "$pts" /dev/pts && mount --bind "$pts/ptmx" /dev/ptmx || { echo 'unisolated: cannot share its devpts instance' >&2; exit 98; }
exec "$@"`;

interface Shared {
  readonly pts: string;
  readonly cgroup: string | undefined;
}

/**
 * What the unisolated executor's runs share when the test runs as root, as a
 * naive multi-tenant host would: one unprivileged uid (with the host's
 * RLIMIT_NOFILE), one small devpts instance, and one cgroup named by a 64-hex
 * id, as container runtimes name theirs. Each run gets a mount namespace of its
 * own only to see the shared devpts. Test only.
 */
export class SharedHost {
  #shared: Promise<Shared> | undefined;

  /** Why runs cannot share here (then they run as this process, as before), or undefined. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'not root';
    const missing = ['setpriv', 'unshare', 'mount'].filter((tool) => findOnPath(tool) === undefined);
    return missing.length > 0 ? `no ${missing.join(', ')}` : undefined;
  }

  /** The command that runs `command` as a tenant of this shared host. */
  async wrap(command: [string, string[]]): Promise<[string, string[]]> {
    this.#shared ??= setUp();
    const { pts, cgroup } = await this.#shared;
    return [
      findOnPath('unshare') ?? 'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        ENTER,
        'sh',
        cgroup ?? '',
        pts,
        findOnPath('setpriv') ?? 'setpriv',
        `--reuid=${UNISOLATED_UID}`,
        `--regid=${UNISOLATED_UID}`,
        '--clear-groups',
        `--inh-caps=${KEPT_CAPS}`,
        `--ambient-caps=${KEPT_CAPS}`,
        '--',
        command[0],
        ...command[1],
      ],
    ];
  }

  async close(): Promise<void> {
    const shared = await this.#shared?.catch(() => undefined);
    this.#shared = undefined;
    if (!shared) return;
    if (shared.cgroup) await removeCgroup(shared.cgroup);
    await promisify(execFile)('umount', ['-l', shared.pts]).catch(() => undefined);
    await rm(shared.pts, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function setUp(): Promise<Shared> {
  const pts = await mkdtemp(join(tmpdir(), 'cordon-unisolated-pts-'));
  await promisify(execFile)('mount', [
    '-t',
    'devpts',
    '-o',
    `newinstance,ptmxmode=0666,mode=0620,max=${UNISOLATED_PTY_MAX}`,
    'devpts',
    pts,
  ]);
  return { pts, cgroup: await makeCgroup() };
}

/** A cgroup v2 directory named like a container's, where this host lets root make one (hybrid `unified`, or the v2 root). */
async function makeCgroup(): Promise<string | undefined> {
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (!existsSync(join(root, 'cgroup.controllers'))) continue;
    const dir = join(root, `cordon-unisolated-${randomBytes(32).toString('hex')}`);
    try {
      await mkdir(dir);
      return dir;
    } catch {
      // Not writable here; try the next.
    }
  }
  return undefined;
}

/** Moves what is left in it (background processes the probes leave on purpose) to its parent, then removes it. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    for (const pid of pids) await writeFile(join(dirname(dir), 'cgroup.procs'), pid).catch(() => undefined);
    try {
      await rmdir(dir);
      return;
    } catch {
      await sleep(100);
    }
  }
}
