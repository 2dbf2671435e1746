import { randomInt } from 'node:crypto';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { debug, ignored } from './debug.js';

/**
 * Host uids handed to sandboxes one each, so no two tenants share the kernel's
 * per-user limits (inotify instances, message-queue bytes, pipe pages, pending
 * signals, RLIMIT_NPROC). Below 2^31 (Node's and Kubernetes' uid checks) and far
 * above login users, systemd's dynamic users and usual /etc/subuid blocks.
 */
export const SANDBOX_UID_RANGE = { first: 1_600_000_000, count: 100_000_000 } as const;

/** How many taken uids an acquire tries before it gives up. */
const MAX_TRIES = 256;

/** One uid held by one sandbox until released. */
export interface UidLease extends AsyncDisposable {
  readonly uid: number;
  release(): Promise<void>;
}

/**
 * Hands out sandbox uids, unique on this machine: each lease is a file created
 * exclusively in a directory every cordon process shares (`/run/cordon/uids` as
 * root), holding the owner's pid and host, so a lease a dead process left is
 * taken over rather than lost. Starting at a random point keeps processes that
 * cannot share the directory (another user's) from meeting by chance.
 */
export class UidLeases {
  readonly #dir: string;
  readonly #range: { first: number; count: number };
  readonly #held = new Set<number>();
  #ready: Promise<void> | undefined;

  constructor(options: { dir?: string; range?: { first: number; count: number } } = {}) {
    this.#dir = options.dir ?? defaultLeaseDir();
    this.#range = options.range ?? SANDBOX_UID_RANGE;
  }

  get dir(): string {
    return this.#dir;
  }

  /** Uids this process holds now. */
  get held(): ReadonlySet<number> {
    return this.#held;
  }

  async acquire(): Promise<UidLease> {
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: 0o755 }).then(() => undefined);
    await this.#ready;
    const start = randomInt(this.#range.count);
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const uid = this.#range.first + ((start + attempt) % this.#range.count);
      if (this.#held.has(uid)) continue;
      this.#held.add(uid);
      if (await this.#claim(uid)) return this.#lease(uid);
      this.#held.delete(uid);
    }
    throw new Error(`no free sandbox uid after ${MAX_TRIES} tries in ${this.#dir}`);
  }

  #lease(uid: number): UidLease {
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= unlink(join(this.#dir, String(uid)))
        .catch(ignored('core.uid', () => `release uid ${uid}`))
        .finally(() => this.#held.delete(uid));
      return released;
    };
    return { uid, release, [Symbol.asyncDispose]: release };
  }

  async #claim(uid: number): Promise<boolean> {
    const path = join(this.#dir, String(uid));
    for (let round = 0; round < 2; round++) {
      try {
        const handle = await open(path, 'wx', 0o644);
        await handle.writeFile(`${process.pid} ${hostname()}\n`);
        await handle.close();
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (!(await isStale(path))) return false;
      await unlink(path).catch(ignored('core.uid', () => `remove stale lease ${path}`));
    }
    return false;
  }
}

/** A lease whose owner process is gone (same host). */
async function isStale(path: string): Promise<boolean> {
  const content = await readFile(path, 'utf8').catch(ignored('core.uid', () => `read lease ${path}`));
  if (content === undefined) return true;
  const [pidText, host] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (host !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    debug('core.uid', () => `lease owner pid ${pid} of ${path}`, error);
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function defaultLeaseDir(): string {
  return process.getuid?.() === 0 ? '/run/cordon/uids' : join(tmpdir(), `cordon-uids-${process.getuid?.() ?? 'user'}`);
}

let shared: UidLeases | undefined;

/** The process-wide lease registry every backend uses. */
export function sandboxUidLeases(): UidLeases {
  shared ??= new UidLeases();
  return shared;
}
