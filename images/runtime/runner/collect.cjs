'use strict';
// The supervisor's collection of the program's files, run after every process of
// the sandbox uid is gone (nothing can race it) and with the effective uid of the
// program (root here holds no DAC override, so this reads exactly what the program
// could read). It walks the working directory with lstat and opens with O_NOFOLLOW:
// no symbolic link is ever followed, no other device is entered. What it leaves out
// is named in warnings (invalid UTF-8 name, depth, caps); the host re-checks every
// returned path anyway.
const fs = require('node:fs');
const { isUtf8 } = require('node:buffer');

/** Directory entries looked at, at most (bounds the walk's time). */
const MAX_VISITED = 100_000;
/** Warnings kept; the rest are counted in one line. */
const MAX_WARNINGS = 20;
const MAX_WARNING_CHARS = 500;

const SLASH = Buffer.from('/');

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
  const files = [];
  const warnings = [];
  let moreWarnings = 0;
  let truncated = false;
  if (patterns.include.length === 0) return { files, truncated, warnings };
  const selected = compileMatcher(patterns);
  const warn = (text) => {
    if (warnings.length < MAX_WARNINGS)
      warnings.push(text.length > MAX_WARNING_CHARS ? `${text.slice(0, MAX_WARNING_CHARS)}…` : text);
    else moreWarnings++;
  };
  let bytes = 0;
  let pathBytes = 0;
  let visited = 0;

  const walk = (dir, prefix, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (error) {
      warn(`collection: directory ${describe(prefix || '.')} not read (${error.code ?? error.message})`);
      return;
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const entry of entries) {
      if (++visited > MAX_VISITED) {
        if (!truncated) warn(`collection stopped after ${MAX_VISITED} directory entries`);
        truncated = true;
        return;
      }
      const full = Buffer.concat([dir, SLASH, entry.name]);
      const validName = isUtf8(entry.name);
      const name = entry.name.toString('utf8');
      const relative = prefix ? `${prefix}/${name}` : name;
      let stat;
      try {
        stat = fs.lstatSync(full);
      } catch {
        continue;
      }
      if (stat.isDirectory()) {
        if (stat.dev !== rootDev) {
          warn(`collection: ${describe(relative)} skipped: another filesystem`);
          continue;
        }
        if (!validName) {
          warn(`collection: directory ${describe(relative)} skipped: its name is not valid UTF-8`);
          continue;
        }
        if (depth + 1 > bounds.maxDepth) {
          warn(`collection: directory ${describe(relative)} skipped: deeper than ${bounds.maxDepth} levels`);
          continue;
        }
        walk(full, relative, depth + 1);
        continue;
      }
      if (!selected(relative)) continue;
      if (!validName) {
        warn(`collected file ${describe(relative)} left out: its name is not valid UTF-8`);
        continue;
      }
      if (!stat.isFile()) {
        warn(
          `collected file ${describe(relative)} left out: not a regular file${stat.isSymbolicLink() ? ' (a symbolic link, never followed)' : ''}`,
        );
        continue;
      }
      if (files.length >= bounds.maxFiles) {
        warn(`collected file ${describe(relative)} left out: more than ${bounds.maxFiles} files`);
        truncated = true;
        continue;
      }
      if (bytes + stat.size > bounds.maxBytes) {
        warn(
          `collected file ${describe(relative)} left out: ${stat.size} bytes would pass the ${bounds.maxBytes}-byte cap`,
        );
        truncated = true;
        continue;
      }
      const encodedPathBytes = Buffer.byteLength(JSON.stringify(relative));
      if (pathBytes + encodedPathBytes > bounds.maxPathBytes) {
        warn(`collected file ${describe(relative)} left out: the paths would pass ${bounds.maxPathBytes} bytes`);
        truncated = true;
        continue;
      }
      const content = readRegularFile(full, stat, rootDev);
      if (!content) {
        warn(`collected file ${describe(relative)} left out: it changed while being read`);
        continue;
      }
      bytes += content.length;
      pathBytes += encodedPathBytes;
      files.push([relative, content.toString('base64')]);
    }
  };
  walk(Buffer.from(root), '', 0);
  if (moreWarnings > 0) warnings.push(`collection: ${moreWarnings} more left out (not listed)`);
  return { files, truncated, warnings };
}

/** The file's bytes, or undefined when what was opened is not what lstat saw. */
function readRegularFile(path, stat, rootDev) {
  let fd;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile() || opened.dev !== rootDev || opened.ino !== stat.ino || opened.size !== stat.size)
      return undefined;
    const content = Buffer.alloc(opened.size);
    let offset = 0;
    while (offset < content.length) {
      const read = fs.readSync(fd, content, offset, content.length - offset, offset);
      if (read === 0) return undefined;
      offset += read;
    }
    return content;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function describe(path) {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

module.exports = { collect, compileMatcher };
