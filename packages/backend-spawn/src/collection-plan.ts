import { MAX_FILES_BYTES } from '@cordon/core';
import { collectMatcher, describePath, MAX_COLLECT_DEPTH, MAX_COLLECTED_FILES } from '@cordon/core/backend';
import { decodeName, decodeNameLossy, quoteNameBytes } from './name-bytes.js';

/** One entry of the runner's listing of the working directory. */
export type ListedEntry =
  | { kind: 'file'; pathBytes: Buffer; sizeBytes: number }
  /** Not a regular file nor a directory: never read (a link is never followed). */
  | { kind: 'special'; pathBytes: Buffer; fileType: SpecialFileType }
  /** A directory the runner did not enter: MAX_COLLECT_DEPTH levels down already. */
  | { kind: 'too-deep'; pathBytes: Buffer }
  /** A directory the runner could not open (the program took its permissions away). */
  | { kind: 'unreadable'; pathBytes: Buffer };

export type SpecialFileType = 'symbolic link' | 'fifo' | 'socket' | 'device' | 'special file';

/** The runner's one-letter kinds in `N` records. */
export const SPECIAL_FILE_TYPES: Readonly<Record<string, SpecialFileType>> = {
  l: 'symbolic link',
  p: 'fifo',
  s: 'socket',
  c: 'device',
  b: 'device',
  '?': 'special file',
};

export interface Listing {
  entries: readonly ListedEntry[];
  /** The runner stopped at its entry or byte cap: files past it were never looked at. */
  cutShort: boolean;
}

/** A file the host asks the runner for. */
export interface WantedFile {
  path: string;
  pathBytes: Buffer;
  sizeBytes: number;
}

export interface CollectionPlan {
  wanted: WantedFile[];
  truncated: boolean;
  warnings: string[];
}

/** The runner lists at most this many entries. */
export const MAX_LISTED_ENTRIES = 100_000;
/** Warnings about left-out files per execution; the rest are counted in one line. */
const MAX_WARNINGS = 20;

/** Path order as core's check uses it (UTF-16 code units), so both caps agree on which files come first. */
function byPath(a: WantedFile, b: WantedFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * Chooses the files to read back from the runner's listing: selected by the request's
 * patterns (core's matcher, the same the host check uses), in path order, within the
 * count cap and min(diskBytes, MAX_FILES_BYTES). Every file the patterns select that is
 * left out is named in a warning, with why (name not UTF-8, too deep, a cap).
 */
export function planCollection(listing: Listing, patterns: readonly string[], diskBytes: number): CollectionPlan {
  const selected = collectMatcher(patterns);
  const warnings: string[] = [];
  let unlisted = 0;
  const warn = (text: string) => {
    if (warnings.length < MAX_WARNINGS) warnings.push(text);
    else unlisted++;
  };
  const candidates: WantedFile[] = [];
  for (const entry of listing.entries) {
    // Nothing beneath these was looked at, so which of their files a pattern selects is unknown.
    if (entry.kind === 'too-deep') {
      warn(
        `collected files under ${quoteNameBytes(entry.pathBytes)} left out: deeper than ${MAX_COLLECT_DEPTH} directory levels`,
      );
      continue;
    }
    if (entry.kind === 'unreadable') {
      warn(`collected files under ${quoteNameBytes(entry.pathBytes)} left out: the directory could not be opened`);
      continue;
    }
    const path = decodeName(entry.pathBytes);
    const isSelected = selected(path ?? decodeNameLossy(entry.pathBytes));
    if (!isSelected) continue;
    if (entry.kind === 'special') {
      warn(
        `collected file ${quoteNameBytes(entry.pathBytes)} left out: a ${entry.fileType}, not a regular file${entry.fileType === 'symbolic link' ? ' (links are never followed)' : ''}`,
      );
      continue;
    }
    if (path === undefined) {
      warn(`collected file ${quoteNameBytes(entry.pathBytes)} left out: its name is not valid UTF-8`);
      continue;
    }
    candidates.push({ path, pathBytes: entry.pathBytes, sizeBytes: entry.sizeBytes });
  }
  candidates.sort(byPath);

  const budgetBytes = Math.min(diskBytes, MAX_FILES_BYTES);
  const wanted: WantedFile[] = [];
  let usedBytes = 0;
  let truncated = listing.cutShort;
  if (listing.cutShort)
    warn(
      `collected files: the working directory holds more than ${MAX_LISTED_ENTRIES} entries (or 8 MiB of names); files past them were not looked at`,
    );
  for (const file of candidates) {
    if (wanted.length >= MAX_COLLECTED_FILES) {
      truncated = true;
      warn(`collected file ${describePath(file.path)} left out: more than ${MAX_COLLECTED_FILES} files`);
      continue;
    }
    if (usedBytes + file.sizeBytes > budgetBytes) {
      truncated = true;
      warn(
        `collected file ${describePath(file.path)} left out: ${file.sizeBytes} bytes would pass the ${budgetBytes}-byte cap`,
      );
      continue;
    }
    usedBytes += file.sizeBytes;
    wanted.push(file);
  }
  if (unlisted > 0) warnings.push(`collected files: ${unlisted} more left out (not listed)`);
  return { wanted, truncated, warnings };
}
