'use strict';
// The program's own process for node (runner protocol 2; see supervisor.cjs). The
// supervisor boots it under the sandbox uid before any request exists; it waits for
// one job on fd 3 ({ script, env }), then becomes the program: the environment is
// replaced, and the script runs as this process's main module, so uncaught errors,
// process.exitCode and process.exit behave as with `node main.js`. It holds no
// protocol secret: the nonce never leaves the supervisor.
const fs = require('node:fs');
const { readToEnd } = require('./stdio.cjs');

const JOB_FD = 3;
const job = JSON.parse(readToEnd(JOB_FD).toString('utf8'));
fs.closeSync(JOB_FD);
for (const key of Object.keys(process.env)) delete process.env[key];
Object.assign(process.env, job.env);
process.argv = [process.execPath, job.script];
require('node:module').runMain(job.script);
