'use strict';
// The program's own process for node (runner protocol 3; see supervisor.cjs). The
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
/** Where this process declares its exit code just before exiting (see supervisor.cjs). */
const EXIT_FD = 4;

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
// After the last 'exit' listener Node still tears V8 and its threads down (a few ms,
// about 10 under gVisor) and tells nobody anything. A microtask queued by the first
// listener runs after all of them (the emit's callback scope ends with a microtask
// checkpoint): it declares the code they settled on to the supervisor, which ends the
// run on it, and exits at once with that same code, as Node would. Both bindings are
// taken before the program runs, so a program replacing fs.writeSync or
// process.reallyExit cannot make the declared code differ from the real one.
const reallyExit = process.reallyExit.bind(process);
const { writeSync } = fs;
process.once('exit', (code) =>
  queueMicrotask(() => {
    const exitCode = process.exitCode ?? code;
    try {
      writeSync(EXIT_FD, `E ${exitCode & 0xff}\n`);
    } catch {
      // The supervisor then learns the code from waitpid.
    }
    reallyExit(exitCode);
  }),
);
require('node:module').runMain(script);
