import { execFile } from 'node:child_process';
import { chown, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { NormalizedRequest } from '@cordon/core';
import { GUARD_FILE, PROGRAM_FILE } from './sandbox-plan.js';
import { ignored } from '@cordon/core/backend';

const run = promisify(execFile);

/** Prefix of every advisory-isolation directory; the owner id makes leak checks scoped. */
export function advisoryDirPrefix(ownerId: string): string {
  return `cordon-spawn-${ownerId}-`;
}

/** The advisory isolation's private directory on the host: `work/`, `tmp/`, the program and a copy of the guard. */
export interface AdvisoryDir extends AsyncDisposable {
  readonly path: string;
  readonly guardCopy: string;
}

export interface AdvisoryDirOptions {
  /** The owner id (`OWNER_ID`), in the directory's and the mount's names. */
  ownerId: string;
  execution: string;
  request: NormalizedRequest;
  /** Where the host process is root: the sandbox user, and `mount` for a size-capped tmpfs. */
  owner: { uid: number; gid: number } | undefined;
  mountPath: string | undefined;
}

export async function createAdvisoryDir(options: AdvisoryDirOptions): Promise<AdvisoryDir> {
  const { request, owner } = options;
  const path = join(tmpdir(), `${advisoryDirPrefix(options.ownerId)}${options.execution}`);
  await mkdir(path, { mode: 0o755 });
  let mounted = false;
  const remove = async () => {
    if (mounted)
      await run(join(dirname(options.mountPath!), 'umount'), ['--lazy', path]).catch(
        ignored('spawn.advisory', () => `unmount ${path}`),
      );
    await rm(path, { recursive: true, force: true });
  };
  try {
    if (options.mountPath) {
      await run(options.mountPath, [
        '-t',
        'tmpfs',
        '-o',
        `size=${request.limits.diskBytes},mode=0755,nosuid,nodev`,
        `cordon-${options.ownerId}-${options.execution}`,
        path,
      ]);
      mounted = true;
    }
    const work = join(path, 'work');
    const tmp = join(path, 'tmp');
    await Promise.all([mkdir(work), mkdir(tmp)]);
    const owned = [work, tmp];
    for (const [relative, content] of request.files) {
      const file = join(work, relative);
      for (let dir = dirname(file); dir !== work && !owned.includes(dir); dir = dirname(dir)) owned.push(dir);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content, { mode: 0o644 });
      owned.push(file);
    }
    const guardCopy = join(path, 'network-guard.cjs');
    await Promise.all([
      writeFile(join(path, PROGRAM_FILE[request.language]), request.code, { mode: 0o444 }),
      copyFile(GUARD_FILE, guardCopy),
    ]);
    if (owner) await Promise.all(owned.map((entry) => chown(entry, owner.uid, owner.gid)));
    return { path, guardCopy, [Symbol.asyncDispose]: remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
