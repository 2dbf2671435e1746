'use strict';
// Writing a request's files and program into the working directory. Done as the
// program's uid, before any of the program's code runs: by the booted child for node
// (python has its own copy in child.py), by the supervisor (as that uid) for bash.
const fs = require('node:fs');
const path = require('node:path');

const WORKDIR = '/workspace';

/** A request path as an absolute path under the workdir; the host sent it normalised, this re-checks. */
function insideWorkdir(relative) {
  const normal = path.posix.normalize(String(relative));
  if (path.posix.isAbsolute(normal) || normal === '.' || normal === '..' || normal.startsWith('../')) {
    throw new Error(`file path ${JSON.stringify(relative)} is not inside the working directory`);
  }
  return path.posix.join(WORKDIR, normal);
}

/** `files` ([[relativePath, base64]]) and the program's source `code` as `script`. */
function writeProgram({ files, code, script }) {
  for (const [relative, base64] of files) {
    const target = insideWorkdir(relative);
    fs.mkdirSync(path.posix.dirname(target), { recursive: true });
    fs.writeFileSync(target, Buffer.from(base64, 'base64'));
  }
  fs.writeFileSync(script, code);
}

module.exports = { WORKDIR, writeProgram };
