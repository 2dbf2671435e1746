import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { collectMatcher } from '../../src/backend/collected-files.js';
import type { CollectedFile } from '../../src/result.js';

/** Bounds that only keep a link to `/` from walking the whole host; nothing else is bounded. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 20_000;

/**
 * DELIBERATELY NAIVE collection, for the unisolated test executor: walks the
 * working directory by its path as it is after the run, following every
 * symlink (files and directories), and reads whole every regular file a
 * pattern selects, however large. The collection-confinement and host-memory
 * probes must catch this; never copy it into a backend.
 */
export async function collectFollowingLinks(root: string, patterns: readonly string[]): Promise<CollectedFile[]> {
  const selected = collectMatcher(patterns);
  const files: CollectedFile[] = [];
  let visited = 0;
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (++visited > MAX_ENTRIES) return;
      const path = prefix ? `${prefix}/${name}` : name;
      const full = join(dir, name);
      const info = await stat(full).catch(() => undefined);
      if (info?.isDirectory()) {
        if (mayHoldMatches(patterns, path)) await walk(full, path, depth + 1);
      } else if (info?.isFile() && selected(path)) {
        const content = await readFile(full).catch(() => undefined);
        if (content) files.push({ path, content });
      }
    }
  };
  await walk(root, '', 0);
  return files;
}

/** Whether a pattern could select something under directory `dir` (so the walk does not wander into unrelated trees). */
function mayHoldMatches(patterns: readonly string[], dir: string): boolean {
  const parts = dir.split('/');
  return patterns.some((pattern) => {
    if (pattern.startsWith('!')) return false;
    const segments = pattern.split('/');
    for (const [index, part] of parts.entries()) {
      const segment = segments[index];
      // The pattern names this directory or an ancestor (`out` means `out/**`), or crosses any depth.
      if (segment === undefined || segment.includes('**')) return true;
      if (!picomatch.isMatch(part, segment, { dot: true })) return false;
    }
    return true;
  });
}
