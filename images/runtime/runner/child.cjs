'use strict';
// The program's own process for node (runner protocol 2; see supervisor.cjs). The
// supervisor boots it under the sandbox uid before any request exists; it waits for
// one job on fd 3 ({ script, env, files, code }), writes the request's files and the
// program into the working directory (as the program's uid, before any of its code
// runs), then becomes the program: the environment is replaced, and the script runs
// as this process's main module, so uncaught errors,
// process.exitCode and process.exit behave as with `node main.js`. It holds no
// protocol secret: the nonce never leaves the supervisor.
const fs = require('node:fs');
const { readToEnd } = require('./stdio.cjs');
const { writeProgram } = require('./workdir.cjs');

const JOB_FD = 3;

/** Reads and carries out the job's writes; returns only what the run needs, so the files' bytes can be collected. */
function takeJob() {
  const job = JSON.parse(readToEnd(JOB_FD).toString('utf8'));
  fs.closeSync(JOB_FD);
  writeProgram(job);
  return { script: job.script, env: job.env };
}

const { script, env } = takeJob();
for (const key of Object.keys(process.env)) delete process.env[key];
Object.assign(process.env, env);
process.argv = [process.execPath, script];
// After the last 'exit' listener Node still tears V8 and its threads down, which costs
// about 10 ms under gVisor and tells nobody anything. A microtask queued by the first
// listener runs after all of them (the emit's callback scope ends with a microtask
// checkpoint) and exits at once with the code they settled on, as Node would.
// Node's own exit binding, taken before the program runs: a program that replaces
// process.reallyExit must not turn a natural exit into another code than Node's own.
const reallyExit = process.reallyExit.bind(process);
process.once('exit', (code) => queueMicrotask(() => reallyExit(process.exitCode ?? code)));
require('node:module').runMain(script);
