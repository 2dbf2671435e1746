'use strict';
// cordon's in-container runner for node and bash (protocol 1; see runner.py for python).
//
// Booted before any request exists (warm pool), it blocks on stdin for one payload:
//   4-byte big-endian length N, N bytes of JSON { v, nonce, language, code, env,
//   files: [[path, base64]], collect: [glob], collectMaxBytes }, then the program's
//   own stdin bytes until EOF.
// It writes the files into the tmpfs working directory and runs the program: node
// in this very process (so no second interpreter boot), bash as a child. When the
// program ends it writes a trailer on each stream so the host can return before the
// container is torn down:
//   stdout: "\0cordon:<nonce>:\0"
//   stderr: "\0cordon:<nonce>:" + base64(JSON { exitCode, signal, files, filesTruncated }) + "\0"
// Only the length prefix and JSON are read here, byte-exact, so everything after
// them on fd 0 is left to the program as its stdin.

const fs = require('node:fs');
const path = require('node:path');

const WORKDIR = '/workspace';
const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: WORKDIR };
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function pause() {
  Atomics.wait(sleeper, 0, 0, 2);
}

function readExactly(length) {
  const buffer = Buffer.alloc(length);
  let offset = 0;
  while (offset < length) {
    let read;
    try {
      read = fs.readSync(0, buffer, offset, length - offset, null);
    } catch (error) {
      if (error.code === 'EAGAIN') { pause(); continue; }
      throw error;
    }
    if (read === 0) throw new Error(`stdin ended after ${offset} of ${length} payload bytes`);
    offset += read;
  }
  return buffer;
}

function writeFully(fd, data) {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (error) {
      if (error.code === 'EAGAIN') { pause(); continue; }
      throw error;
    }
  }
}

function globToRegExp(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') { i++; source += '(?:.*/)?'; } else { source += '.*'; }
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/** Regular files under the working directory matching any pattern; symlinks are never followed. */
function collect(patterns, maxBytes) {
  const files = [];
  let truncated = false;
  if (patterns.length === 0) return { files, truncated };
  const matchers = patterns.map(globToRegExp);
  let total = 0;
  let visited = 0;
  const walk = (dir, prefix) => {
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (++visited > 100_000) { truncated = true; return; }
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) { walk(full, relative); continue; }
      if (!entry.isFile() || !matchers.some((m) => m.test(relative))) continue;
      let size;
      try { size = fs.lstatSync(full).size; } catch { continue; }
      if (total + size > maxBytes) { truncated = true; continue; }
      try {
        const content = fs.readFileSync(full);
        total += content.length;
        files.push([relative, content.toString('base64')]);
      } catch { /* vanished or unreadable: not collected */ }
    }
  };
  walk(WORKDIR, '');
  return { files, truncated };
}

let finished = false;
function finish(payload, exitCode, signal) {
  if (finished) return;
  finished = true;
  const { files, truncated } = collect(payload.collect, payload.collectMaxBytes);
  const marker = `\0cordon:${payload.nonce}:`;
  const body = Buffer.from(JSON.stringify({ exitCode, signal, files, filesTruncated: truncated })).toString('base64');
  writeFully(1, `${marker}\0`);
  writeFully(2, `${marker}${body}\0`);
}

function main() {
  const length = readExactly(4).readUInt32BE(0);
  const payload = JSON.parse(readExactly(length).toString('utf8'));
  if (payload.v !== 1) throw new Error(`unsupported payload version ${payload.v}`);

  for (const [relative, base64] of payload.files) {
    const target = path.join(WORKDIR, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, Buffer.from(base64, 'base64'));
  }
  const env = { ...BASE_ENV, ...payload.env };

  if (payload.language === 'bash') {
    const script = path.join(WORKDIR, 'main.sh');
    fs.writeFileSync(script, payload.code);
    const { spawnSync } = require('node:child_process');
    // fd 0 is inherited: the program reads the rest of it as its stdin.
    const result = spawnSync('/bin/bash', [script], { cwd: WORKDIR, env, stdio: 'inherit' });
    if (result.error) throw result.error;
    finish(payload, result.status, result.signal);
    process.exit(result.status ?? 1);
  }

  if (payload.language !== 'node') throw new Error(`runner.cjs does not run ${payload.language}`);
  const script = path.join(WORKDIR, 'main.js');
  fs.writeFileSync(script, payload.code);
  process.chdir(WORKDIR);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, env);
  process.argv = [process.execPath, script];
  // 'exit' fires on a drained event loop, process.exit() and uncaught errors alike.
  process.on('exit', (code) => finish(payload, code, null));
  // Node prints an uncaught error only after 'exit' (after the trailer), so print it
  // here as node would and exit 1 — unless the program handles such errors itself.
  process.on('uncaughtException', (error) => {
    if (process.listenerCount('uncaughtException') > 1) return;
    writeFully(2, `${require('node:util').inspect(error)}\n\nNode.js ${process.version}\n`);
    process.exit(1);
  });
  return script;
}

let entry;
try {
  entry = main();
} catch (error) {
  // The runner itself failed (bad payload): say so on stderr, exit 125 like docker run does.
  process.stderr.write(`cordon runner: ${error && error.stack ? error.stack : error}\n`);
  process.exit(125);
}
// Outside the try: an error thrown by the program is the program's own uncaught
// error (stack on stderr, exit code 1), not a runner failure.
require('node:module').runMain(entry);
