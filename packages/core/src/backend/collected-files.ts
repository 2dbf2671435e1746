import picomatch from 'picomatch';
import { MAX_FILES_BYTES, normalizeRelativePath, relativePathProblem } from '../request.js';
import type { CollectedFile } from '../result.js';

// One collection behaviour on every backend. Spawn's runner (runner.pl with the host's
// collection-plan.ts) and the runtime image's supervisor (images/runtime/runner/collect.cjs,
// which gets these numbers in the payload's `bounds`) both: walk the working directory in
// byte order of names, never following a link nor entering another filesystem, at most
// MAX_COLLECT_DEPTH levels down, stopping after MAX_COLLECT_ENTRIES entries or
// MAX_COLLECT_LISTING_BYTES of listed paths (truncated); then take the selected regular
// files in path order within the caps below (`CollectionCaps`), each left-out file named in
// one warning worded as `collectWarning` words it. The host's `checkCollectedFiles` applies
// the same caps again to whatever a backend returned.

/** At most this many files come back from one execution, on every backend. */
export const MAX_COLLECTED_FILES = 1_000;
/** Directory levels below the working directory a collection descends, on every backend. */
export const MAX_COLLECT_DEPTH = 64;
/** Directory entries a collection looks at, at most (bounds its time); past them it stops, truncated. */
export const MAX_COLLECT_ENTRIES = 100_000;
/** Bytes of the relative paths a collection lists (files, other entries, directories left out); past them it stops, truncated. */
export const MAX_COLLECT_LISTING_BYTES = 8 * 1024 * 1024;
/** Bytes the collected files' paths may take together, each counted JSON-encoded (as the image's trailer carries it). */
export const MAX_COLLECTED_PATH_BYTES = 1024 * 1024;
/** Warnings about left-out files kept per execution; the rest are counted in one line. */
export const MAX_COLLECT_WARNINGS = 20;

/** A path as shown in a warning: JSON-quoted (control characters escaped), shortened. */
export function describePath(path: string): string {
  const quoted = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
  return quoted;
}

/**
 * The one wording of each collection warning, on every backend (collect.cjs writes the
 * same texts). `quoted` is a path already quoted (`describePath`, or spawn's escaped bytes).
 */
export const collectWarning = {
  /** A selected file left out, and why. */
  file: (quoted: string, why: string): string => `collected file ${quoted} left out: ${why}`,
  /** A directory not listed, so whatever beneath it a pattern selects is unknown. */
  under: (quoted: string, why: string): string => `collected files under ${quoted} left out: ${why}`,
  tooDeep: `deeper than ${MAX_COLLECT_DEPTH} directory levels`,
  unreadable: 'the directory could not be opened',
  otherFilesystem: 'another filesystem is mounted there',
  invalidName: 'its name is not valid UTF-8',
  /** A selected entry that is not a regular file (`kind`: symbolic link, fifo, socket, device, special file). */
  special: (kind: string): string =>
    `a ${kind}, not a regular file${kind === 'symbolic link' ? ' (links are never followed)' : ''}`,
  cutShort: `collected files: the working directory holds more than ${MAX_COLLECT_ENTRIES} entries (or ${MAX_COLLECT_LISTING_BYTES} bytes of paths); files past them were not looked at`,
  more: (count: number): string => `collected files: ${count} more left out (not listed)`,
} as const;

/** Warnings of one collection: the first MAX_COLLECT_WARNINGS kept, the rest counted in one last line. */
export class CollectWarnings {
  readonly #kept: string[] = [];
  #more = 0;

  add(text: string): void {
    if (this.#kept.length < MAX_COLLECT_WARNINGS) this.#kept.push(text);
    else this.#more++;
  }

  list(): string[] {
    return this.#more > 0 ? [...this.#kept, collectWarning.more(this.#more)] : [...this.#kept];
  }
}

/**
 * The caps on what one collection returns, taken in path order: MAX_COLLECTED_FILES files,
 * min(diskBytes, MAX_FILES_BYTES) bytes, MAX_COLLECTED_PATH_BYTES of paths. A file that does
 * not fit is left out (and the collection truncated); a later, smaller one may still fit.
 */
export class CollectionCaps {
  readonly budgetBytes: number;
  #files = 0;
  #bytes = 0;
  #pathBytes = 0;

  constructor(diskBytes: number) {
    this.budgetBytes = Math.min(diskBytes, MAX_FILES_BYTES);
  }

  /** Why the file does not fit, or undefined when it does (it is then counted). */
  admit(path: string, sizeBytes: number): string | undefined {
    if (this.#files >= MAX_COLLECTED_FILES) return `more than ${MAX_COLLECTED_FILES} files`;
    if (this.#bytes + sizeBytes > this.budgetBytes)
      return `${sizeBytes} bytes would pass the ${this.budgetBytes}-byte cap`;
    const pathBytes = Buffer.byteLength(JSON.stringify(path));
    if (this.#pathBytes + pathBytes > MAX_COLLECTED_PATH_BYTES)
      return `the paths would pass ${MAX_COLLECTED_PATH_BYTES} bytes`;
    this.#files++;
    this.#bytes += sizeBytes;
    this.#pathBytes += pathBytes;
    return undefined;
  }
}

/** Path order as every collector uses it (UTF-16 code units), so every cap keeps the same files. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** The glob forms of one `collectFiles` pattern: a pattern names a file or, naming a directory, everything under it. */
export function patternForms(pattern: string): { negated: boolean; forms: string[] } {
  const negated = pattern.startsWith('!') && !pattern.startsWith('!(');
  const body = negated ? pattern.slice(1) : pattern;
  return { negated, forms: body.endsWith('*') ? [body] : [body, `${body}/**`] };
}

/**
 * Whether a relative path is selected by `collectFiles` patterns: a pattern matches
 * a file itself or, naming a directory, everything under it (`out` is `out/**`);
 * dotfiles match; a pattern starting with `!` excludes.
 */
export function collectMatcher(patterns: readonly string[]): (path: string) => boolean {
  const include: ((path: string) => boolean)[] = [];
  const exclude: ((path: string) => boolean)[] = [];
  for (const pattern of patterns) {
    const { negated, forms } = patternForms(pattern);
    const matcher = picomatch(forms, { dot: true });
    (negated ? exclude : include).push(matcher);
  }
  return (path) => include.some((match) => match(path)) && !exclude.some((match) => match(path));
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
  const warnings = new CollectWarnings();
  if (files.length === 0) return { files: [], truncated: false, warnings: [] };
  if (patterns.length === 0) {
    warnings.add(`collected files: ${files.length} returned although none were asked for; all dropped`);
    return { files: [], truncated: false, warnings: warnings.list() };
  }
  const selected = collectMatcher(patterns);
  const caps = new CollectionCaps(diskBytes);
  const seen = new Set<string>();
  const kept: CollectedFile[] = [];
  let truncated = false;
  for (const file of [...files].sort(byPath)) {
    const path = typeof file.path === 'string' ? file.path : '';
    const problem =
      relativePathProblem(path) ?? (normalizeRelativePath(path) !== path ? 'is not in normal form' : undefined);
    if (problem) {
      warnings.add(`collected file ${describePath(path)} dropped: its path ${problem}`);
      continue;
    }
    if (!selected(path)) {
      warnings.add(`collected file ${describePath(path)} dropped: no collectFiles pattern selects it`);
      continue;
    }
    if (seen.has(path)) {
      warnings.add(`collected file ${describePath(path)} dropped: returned twice`);
      continue;
    }
    const overCap = caps.admit(path, file.content.byteLength);
    if (overCap !== undefined) {
      truncated = true;
      warnings.add(collectWarning.file(describePath(path), overCap));
      continue;
    }
    seen.add(path);
    kept.push(file);
  }
  return { files: kept, truncated, warnings: warnings.list() };
}
