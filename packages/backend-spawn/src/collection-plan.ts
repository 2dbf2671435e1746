import {
  byPath,
  collectMatcher,
  CollectionCaps,
  collectWarning,
  CollectWarnings,
  describePath,
  MAX_COLLECT_ENTRIES,
} from '@cordon/core/backend';
import { decodeName, decodeNameLossy, quoteNameBytes } from './name-bytes.js';

/** One entry of the runner's listing of the working directory. */
export type ListedEntry =
  | { kind: 'file'; pathBytes: Buffer; sizeBytes: number }
  /** Not a regular file nor a directory: never read (a link is never followed). */
  | { kind: 'special'; pathBytes: Buffer; fileType: SpecialFileType }
  /** A directory the runner did not enter: MAX_COLLECT_DEPTH levels down already. */
  | { kind: 'too-deep'; pathBytes: Buffer }
  /** A directory the runner could not open (the program took its permissions away). */
  | { kind: 'unreadable'; pathBytes: Buffer }
  /** An entry on another filesystem than the working directory's (a mount point): never entered nor read. */
  | { kind: 'other-filesystem'; pathBytes: Buffer };

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
  /** The runner stopped at its entry or listing-bytes cap: files past it were never looked at. */
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

/** The runner lists at most this many entries (core's, as the runtime image's supervisor). */
export const MAX_LISTED_ENTRIES = MAX_COLLECT_ENTRIES;

/** Why a directory's files were not listed, by its kind of entry. */
const NOT_LISTED = {
  'too-deep': collectWarning.tooDeep,
  unreadable: collectWarning.unreadable,
  'other-filesystem': collectWarning.otherFilesystem,
} as const;

/**
 * Chooses the files to read back from the runner's listing: selected by the request's
 * patterns (core's matcher, the same the host check uses), in path order, within the
 * caps core's `CollectionCaps` sets (as the image's supervisor and the host's check).
 * Every file the patterns select that is left out is named in a warning, worded as
 * core's `collectWarning` (name not UTF-8, too deep, a cap).
 */
export function planCollection(listing: Listing, patterns: readonly string[], diskBytes: number): CollectionPlan {
  const selected = collectMatcher(patterns);
  const warnings = new CollectWarnings();
  const candidates: WantedFile[] = [];
  for (const entry of listing.entries) {
    // Nothing beneath these was looked at, so which of their files a pattern selects is unknown.
    if (entry.kind === 'too-deep' || entry.kind === 'unreadable' || entry.kind === 'other-filesystem') {
      warnings.add(collectWarning.under(quoteNameBytes(entry.pathBytes), NOT_LISTED[entry.kind]));
      continue;
    }
    const path = decodeName(entry.pathBytes);
    const isSelected = selected(path ?? decodeNameLossy(entry.pathBytes));
    if (!isSelected) continue;
    if (entry.kind === 'special') {
      warnings.add(collectWarning.file(quoteNameBytes(entry.pathBytes), collectWarning.special(entry.fileType)));
      continue;
    }
    if (path === undefined) {
      warnings.add(collectWarning.file(quoteNameBytes(entry.pathBytes), collectWarning.invalidName));
      continue;
    }
    candidates.push({ path, pathBytes: entry.pathBytes, sizeBytes: entry.sizeBytes });
  }
  candidates.sort(byPath);

  const caps = new CollectionCaps(diskBytes);
  const wanted: WantedFile[] = [];
  let truncated = listing.cutShort;
  if (listing.cutShort) warnings.add(collectWarning.cutShort);
  for (const file of candidates) {
    const overCap = caps.admit(file.path, file.sizeBytes);
    if (overCap !== undefined) {
      truncated = true;
      warnings.add(collectWarning.file(describePath(file.path), overCap));
      continue;
    }
    wanted.push(file);
  }
  return { wanted, truncated, warnings: warnings.list() };
}
