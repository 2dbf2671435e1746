'use strict';
// The supervisor's collection of the program's files, run after every process of
// the sandbox uid is gone (nothing can race it) and with the effective uid of the
// program (root here holds no DAC override, so this reads exactly what the program
// could read). It walks the working directory with lstat and opens with O_NOFOLLOW:
// no symbolic link is ever followed, no other device is entered.
//
// One behaviour with spawn's runner (packages/backend-spawn/src/runner.pl and its
// host side, collection-plan.ts), pinned by core's conformance cases
// (packages/core/src/conformance/collect-files-cases.ts): names in byte order, depth
// first, at most `bounds.maxDepth` levels, stopping after `bounds.maxEntries` entries
// or `bounds.maxListingBytes` of listed paths (truncated); then the selected regular
// files in path order within the caps (count, bytes, path bytes: core's
// CollectionCaps). Every warning is worded as core's `collectWarning`; the host
// re-checks every returned path anyway.
const fs = require('node:fs');

/** Core's MAX_COLLECT_WARNINGS: warnings kept; the rest are counted in one line. */
const MAX_WARNINGS = 20;
const MAX_WARNING_CHARS = 500;
/** Core's MAX_COLLECT_ENTRIES and MAX_COLLECT_LISTING_BYTES, for a host that sends no such bounds. */
const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_MAX_LISTING_BYTES = 8 * 1024 * 1024;

const SLASH = Buffer.from('/');
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
// ignoreBOM: a name starting with U+FEFF keeps it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Core's collectWarning, word for word. */
const WARNING = {
  file: (quoted, why) => `collected file ${quoted} left out: ${why}`,
  under: (quoted, why) => `collected files under ${quoted} left out: ${why}`,
  tooDeep: (maxDepth) => `deeper than ${maxDepth} directory levels`,
  unreadable: 'the directory could not be opened',
  otherFilesystem: 'another filesystem is mounted there',
  invalidName: 'its name is not valid UTF-8',
  special: (kind) => `a ${kind}, not a regular file${kind === 'symbolic link' ? ' (links are never followed)' : ''}`,
  cutShort: (maxEntries, maxListingBytes) =>
    `collected files: the working directory holds more than ${maxEntries} entries (or ${maxListingBytes} bytes of paths); files past them were not looked at`,
  more: (count) => `collected files: ${count} more left out (not listed)`,
};

/**
 * `patterns` come from the host as regular expressions built by the same matcher
 * core uses (collectMatcher), plus each glob itself (picomatch also accepts an exact
 * match), so both sides select the same files.
 */
function compileMatcher(patterns) {
  const compile = ([glob, source, flags]) => {
    const regex = new RegExp(source, flags);
    return (path) => path === glob || regex.test(path);
  };
  const include = patterns.include.map(compile);
  const exclude = patterns.exclude.map(compile);
  return (path) => include.some((match) => match(path)) && !exclude.some((match) => match(path));
}

function collect({ root, rootDev, patterns, bounds }) {
  const kept = [];
  let moreWarnings = 0;
  const warn = (text) => {
    if (kept.length < MAX_WARNINGS)
      kept.push(text.length > MAX_WARNING_CHARS ? `${text.slice(0, MAX_WARNING_CHARS)}…` : text);
    else moreWarnings++;
  };
  const warnings = () => (moreWarnings > 0 ? [...kept, WARNING.more(moreWarnings)] : kept);
  if (patterns.include.length === 0) return { files: [], truncated: false, warnings: [] };
  const selected = compileMatcher(patterns);
  const maxEntries = bounds.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxListingBytes = bounds.maxListingBytes ?? DEFAULT_MAX_LISTING_BYTES;

  // 1. The listing, as spawn's runner lists (and its host plans from it).
  const candidates = [];
  let entries = 0;
  let listedBytes = 0;
  const walk = (dir, prefix, depth) => {
    let names;
    try {
      names = fs.readdirSync(dir, { encoding: 'buffer' });
    } catch {
      return true;
    }
    names.sort(Buffer.compare);
    for (const name of names) {
      if (++entries > maxEntries || listedBytes > maxListingBytes) return false;
      const full = Buffer.concat([dir, SLASH, name]);
      const relative = Buffer.concat([prefix, name]);
      let stat;
      try {
        stat = fs.lstatSync(full);
      } catch {
        continue;
      }
      if (stat.isDirectory() && stat.dev === rootDev && depth < bounds.maxDepth && enterable(full, rootDev)) {
        if (!walk(full, Buffer.concat([relative, SLASH]), depth + 1)) return false;
        continue;
      }
      listedBytes += relative.length;
      if (stat.dev !== rootDev) warn(WARNING.under(quoteNameBytes(relative), WARNING.otherFilesystem));
      else if (stat.isDirectory())
        warn(
          WARNING.under(
            quoteNameBytes(relative),
            depth >= bounds.maxDepth ? WARNING.tooDeep(bounds.maxDepth) : WARNING.unreadable,
          ),
        );
      else listed(relative, full, stat);
    }
    return true;
  };
  const listed = (relative, full, stat) => {
    const path = decodeName(relative);
    if (!selected(path ?? lossyUtf8.decode(relative))) return;
    if (!stat.isFile()) warn(WARNING.file(quoteNameBytes(relative), WARNING.special(fileType(stat))));
    else if (path === undefined) warn(WARNING.file(quoteNameBytes(relative), WARNING.invalidName));
    else candidates.push({ path, full, size: stat.size });
  };
  const complete = walk(Buffer.from(root), Buffer.alloc(0), 0);

  // 2. The caps, in path order (UTF-16 code units, as core's byPath); 3. the contents.
  candidates.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let truncated = !complete;
  if (!complete) warn(WARNING.cutShort(maxEntries, maxListingBytes));
  const admit = capsOf(bounds);
  const wanted = [];
  for (const file of candidates) {
    const overCap = admit(file.path, file.size);
    if (overCap === undefined) wanted.push(file);
    else {
      truncated = true;
      warn(WARNING.file(describe(file.path), overCap));
    }
  }
  const files = [];
  for (const file of wanted) {
    const read = readRegularFile(file.full, file.size, rootDev);
    if (typeof read === 'string') warn(WARNING.file(describe(file.path), read));
    else files.push([file.path, read.toString('base64')]);
  }
  return { files, truncated, warnings: warnings() };
}

/** Core's CollectionCaps: why a file does not fit (then left out), or undefined (then counted). */
function capsOf(bounds) {
  let count = 0;
  let bytes = 0;
  let pathBytes = 0;
  return (path, size) => {
    if (count >= bounds.maxFiles) return `more than ${bounds.maxFiles} files`;
    if (bytes + size > bounds.maxBytes) return `${size} bytes would pass the ${bounds.maxBytes}-byte cap`;
    const encoded = Buffer.byteLength(JSON.stringify(path));
    if (pathBytes + encoded > bounds.maxPathBytes) return `the paths would pass ${bounds.maxPathBytes} bytes`;
    count++;
    bytes += size;
    pathBytes += encoded;
    return undefined;
  };
}

/** A directory this uid can open and search, on the working directory's device, never through a link. */
function enterable(full, rootDev) {
  let fd;
  try {
    fd = fs.openSync(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isDirectory() || opened.dev !== rootDev) return false;
  } finally {
    fs.closeSync(fd);
  }
  // Search permission, which opening does not need and listing beneath does.
  try {
    fs.lstatSync(Buffer.concat([full, Buffer.from('/.')]));
    return true;
  } catch {
    return false;
  }
}

function fileType(stat) {
  if (stat.isSymbolicLink()) return 'symbolic link';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isSocket()) return 'socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'device';
  return 'special file';
}

/** The file's bytes (at most `listedSize`), or why it is left out: spawn's runner's reasons. */
function readRegularFile(full, listedSize, rootDev) {
  let fd;
  try {
    fd = fs.openSync(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    try {
      fs.lstatSync(full);
      return 'could not be opened';
    } catch {
      return 'vanished';
    }
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile() || opened.dev !== rootDev) return 'no longer a regular file';
    if (opened.size > listedSize) return 'grew after it was listed';
    const content = Buffer.alloc(opened.size);
    let offset = 0;
    while (offset < content.length) {
      const read = fs.readSync(fd, content, offset, content.length - offset, offset);
      if (read === 0) break;
      offset += read;
    }
    return content.subarray(0, offset);
  } catch {
    return 'could not be read';
  } finally {
    fs.closeSync(fd);
  }
}

/** The name as a string, or undefined when it is not valid UTF-8. */
function decodeName(bytes) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** How many bytes the UTF-8 sequence led by `byte` has; 0 when it cannot lead one. */
function sequenceLength(byte) {
  if (byte < 0x80) return 1;
  if (byte >= 0xc2 && byte <= 0xdf) return 2;
  if (byte >= 0xe0 && byte <= 0xef) return 3;
  if (byte >= 0xf0 && byte <= 0xf4) return 4;
  return 0;
}

/** Spawn's quoteNameBytes: valid characters as JSON writes them, each invalid byte as `\xNN`. */
function quoteNameBytes(bytes, maxChars = 200) {
  let out = '';
  let valid = '';
  const flush = () => {
    out += JSON.stringify(valid).slice(1, -1);
    valid = '';
  };
  let index = 0;
  while (index < bytes.length && out.length + valid.length < maxChars) {
    const length = sequenceLength(bytes[index]);
    const decoded =
      length > 0 && index + length <= bytes.length ? decodeName(bytes.subarray(index, index + length)) : undefined;
    if (decoded !== undefined) {
      valid += decoded;
      index += length;
    } else {
      flush();
      out += `\\x${bytes[index].toString(16).padStart(2, '0')}`;
      index += 1;
    }
  }
  flush();
  return `"${out}${index < bytes.length ? '…' : ''}"`;
}

/** Core's describePath. */
function describe(path) {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

module.exports = { collect, compileMatcher };
