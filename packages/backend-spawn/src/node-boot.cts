/**
 * A pre-booted Node for the pool: started with the sandbox, it blocks reading its
 * job (program path, then the environment, NUL-separated) from the runner's pipe,
 * then runs the program as the main module, exactly as `node <program>` would
 * (CommonJS, or ESM by syntax detection). Saves Node's boot on the hot path. The
 * runner only hands it jobs whose start-up settings (NODE_OPTIONS and the like)
 * are the ones it booted with.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS entry point must use require. */
import fs = require('node:fs');
import nodeModule = require('node:module');

const fd = Number(process.env.CORDON_JOB_FD);
const chunks: Buffer[] = [];
const buffer = Buffer.alloc(64 * 1024);
for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer))
  chunks.push(Buffer.from(buffer.subarray(0, read)));
fs.closeSync(fd);
const [program, ...pairs] = Buffer.concat(chunks).toString('utf8').split('\0');
if (!program) process.exit(125);

for (const key of Object.keys(process.env)) delete process.env[key];
for (const pair of pairs) {
  const separator = pair.indexOf('=');
  if (separator > 0) process.env[pair.slice(0, separator)] = pair.slice(separator + 1);
}
// NODE_PATH is read once at start-up; read it again for the program's environment.
(nodeModule as unknown as { _initPaths(): void })._initPaths();
process.argv.splice(1, process.argv.length - 1, program);
(nodeModule as unknown as { runMain(): void }).runMain();
