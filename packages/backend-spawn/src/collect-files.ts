import { constants } from 'node:fs';
import { lstat, open, realpath, stat } from 'node:fs/promises';
import type { CollectedFile } from '@cordon/core';
import { MAX_FILES_BYTES } from '@cordon/core';
import { glob } from 'tinyglobby';

const MAX_COLLECTED_FILES = 1_000;

export interface Collected {
  files: CollectedFile[];
  truncated: boolean;
}

/**
 * Reads back files matching `patterns` from a sandbox's working directory. The
 * directory is written by untrusted code, so nothing it contains is followed:
 * symlinks are skipped, each file is opened with O_NOFOLLOW, and a file must be a
 * regular file on the working directory's own filesystem (a fresh tmpfs in the
 * kernel tier) — so no link or rename race can make the host read its own files.
 */
export async function collectFiles(root: string, patterns: readonly string[], capBytes: number): Promise<Collected> {
  if (patterns.length === 0) return { files: [], truncated: false };
  const budget = Math.min(capBytes, MAX_FILES_BYTES);
  const rootStat = await stat(root);
  // A sandbox's root seen through /proc/<pid>/root has no host realpath; its tmpfs device is the check there.
  const throughProc = root.startsWith('/proc/');
  const realRoot = throughProc ? root : await realpath(root);
  const matches = await glob([...patterns], { cwd: root, onlyFiles: true, followSymbolicLinks: false, dot: true, expandDirectories: true });
  matches.sort();
  const files: CollectedFile[] = [];
  let used = 0;
  let truncated = false;
  for (const path of matches) {
    if (files.length >= MAX_COLLECTED_FILES) {
      truncated = true;
      break;
    }
    const full = `${root}/${path}`;
    const link = await lstat(full).catch(() => undefined);
    if (!link?.isFile()) continue;
    const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (!handle) continue;
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.dev !== rootStat.dev) continue;
      // Outside a tmpfs the device check alone is weak; the path must also stay under the root.
      if (!throughProc && !(await realpath(full)).startsWith(`${realRoot}/`)) continue;
      if (used + info.size > budget) {
        truncated = true;
        continue;
      }
      const content = Buffer.alloc(info.size);
      const { bytesRead } = await handle.read(content, 0, info.size, 0);
      used += bytesRead;
      files.push({ path, content: content.subarray(0, bytesRead) });
    } finally {
      await handle.close();
    }
  }
  return { files, truncated };
}
