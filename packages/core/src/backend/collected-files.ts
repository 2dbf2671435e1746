import picomatch from 'picomatch';
import { MAX_FILES_BYTES, normalizeRelativePath, relativePathProblem } from '../request.js';
import type { CollectedFile } from '../result.js';

/** At most this many files come back from one execution, on every backend. */
export const MAX_COLLECTED_FILES = 1_000;
/** Directory levels below the working directory a collection descends, on every backend. */
export const MAX_COLLECT_DEPTH = 64;
/** Warnings about left-out files kept per execution; the rest are counted in one line. */
const MAX_FILE_WARNINGS = 20;

/**
 * Whether a relative path is selected by `collectFiles` patterns: a pattern matches
 * a file itself or, naming a directory, everything under it (`out` is `out/**`);
 * dotfiles match; a pattern starting with `!` excludes.
 */
export function collectMatcher(patterns: readonly string[]): (path: string) => boolean {
  const include: ((path: string) => boolean)[] = [];
  const exclude: ((path: string) => boolean)[] = [];
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!') && !pattern.startsWith('!(');
    const body = negated ? pattern.slice(1) : pattern;
    const forms = body.endsWith('*') ? [body] : [body, `${body}/**`];
    const matcher = picomatch(forms, { dot: true });
    (negated ? exclude : include).push(matcher);
  }
  return (path) => include.some((match) => match(path)) && !exclude.some((match) => match(path));
}

/** A path as shown in a warning: JSON-quoted (control characters escaped), shortened. */
export function describePath(path: string): string {
  const quoted = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
  return quoted;
}

export interface CheckedFiles {
  files: CollectedFile[];
  truncated: boolean;
  warnings: string[];
}

/**
 * The host's own check of what a backend collected, whatever the backend and its
 * in-sandbox helpers did: every path must be a plain relative path in normal form,
 * selected by the request's patterns, and unique; the count and the total size are
 * capped. Anything else is dropped and named in the warnings.
 */
export function checkCollectedFiles(
  files: readonly CollectedFile[],
  patterns: readonly string[],
  diskBytes: number,
): CheckedFiles {
  const warnings: string[] = [];
  let dropped = 0;
  const warn = (text: string) => {
    if (warnings.length < MAX_FILE_WARNINGS) warnings.push(text);
    else dropped++;
  };
  if (files.length === 0) return { files: [], truncated: false, warnings };
  if (patterns.length === 0) {
    warn(`collected files: ${files.length} returned although none were asked for; all dropped`);
    return { files: [], truncated: false, warnings };
  }
  const selected = collectMatcher(patterns);
  const budget = Math.min(MAX_FILES_BYTES, diskBytes);
  const seen = new Set<string>();
  const kept: CollectedFile[] = [];
  let used = 0;
  let truncated = false;
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const path = typeof file.path === 'string' ? file.path : '';
    const problem =
      relativePathProblem(path) ?? (normalizeRelativePath(path) !== path ? 'is not in normal form' : undefined);
    if (problem) {
      warn(`collected file ${describePath(path)} dropped: its path ${problem}`);
      continue;
    }
    if (!selected(path)) {
      warn(`collected file ${describePath(path)} dropped: no collectFiles pattern selects it`);
      continue;
    }
    if (seen.has(path)) {
      warn(`collected file ${describePath(path)} dropped: returned twice`);
      continue;
    }
    if (kept.length >= MAX_COLLECTED_FILES) {
      truncated = true;
      warn(`collected file ${describePath(path)} left out: more than ${MAX_COLLECTED_FILES} files`);
      continue;
    }
    if (used + file.content.byteLength > budget) {
      truncated = true;
      warn(
        `collected file ${describePath(path)} left out: ${file.content.byteLength} bytes would pass the ${budget}-byte cap`,
      );
      continue;
    }
    seen.add(path);
    used += file.content.byteLength;
    kept.push(file);
  }
  if (dropped > 0) warnings.push(`collected files: ${dropped} more left out (not listed)`);
  return { files: kept, truncated, warnings };
}
