'use strict';
// cordon's in-container supervisor, runner protocol 3 (supervisor.py speaks the same
// protocol for images with python3 but no node).
//
// Runs as root holding only CAP_SETUID, CAP_SETGID and CAP_KILL (no DAC override, no
// ptrace), beneath an init as PID 1 (the runtime image's tini, or docker's --init in
// a user's own image: nothing here assumes either). The program never runs in this
// process: it runs as a separate process under the sandbox uid (`--uid`), which
// cannot read this process's memory, signal it or obtain its descriptors. So the
// per-run nonce, read here from the payload and never handed to anything else, stays
// secret, and only this process can write the real trailer: the exit status in it is
// what waitpid said, and the files are what was found after every process of the
// sandbox uid was gone.
//
// In, on fd 0: a 4-byte big-endian length N, N bytes of JSON { v: 3, nonce, language,
// code, env, files: [[path, base64]], collect: { include, exclude }, bounds,
// stdinBytes }, then exactly `stdinBytes` bytes: the program's stdin. The program
// never reads fd 0: its own fd 0 is a socket from this process, which copies those
// bytes into it (asynchronously: a program that never reads blocks nothing here) and
// then shuts it, so the program sees EOF after exactly its stdin. fd 0 then stays
// open for the whole run as the host's liveness: the host ends it only once it read
// the trailer (or gave up). EOF or a read error on fd 0 before the trailer is written
// means the host is gone: every program process is SIGKILLed and this process exits
// 125 at once, without a trailer (also while still waiting for the payload, as an
// idle pooled container does). Bytes past `stdinBytes` are read and dropped.
// Out: the program writes straight to fds 1 and 2; at the end this process writes
//   stdout: "\0cordon:<nonce>:\0"
//   stderr: "\0cordon:<nonce>:" + JSON { exitCode, signal, files, filesTruncated, warnings } + "\0"
// (JSON never contains a NUL) and exits with the program's code, or 128+N for signal N.
// A supervisor failure before the program ran exits 125 without a trailer.
//
// Options: --kind node|python, --uid N, [--nproc N] (RLIMIT_NPROC of the program's
// processes, set by prlimit), [--egress-socket PATH] (an allow-list: see
// startForwarder), and paths for images laid out otherwise: --node, --python, --bash,
// --prlimit, --perl (interpreters and tools), --node-path (NODE_PATH of the node
// child; empty for none).
//
// For node and python a booted child is spawned at container start, under the
// sandbox uid, and waits for its job on fd 3 (so a pooled run does not wait for an
// interpreter to start); it writes the request's files itself. Bash is spawned when
// its job comes, after the supervisor wrote the files as the program's uid. Every
// switch of the effective uid costs a signal to each of this process's threads
// (glibc's setxid), dear under gVisor, so there are as few as possible: none on a
// pooled node or python run without collectFiles.
const fs = require('node:fs');
const net = require('node:net');
const tty = require('node:tty');
const path = require('node:path');
const { WORKDIR, writeProgram } = require('./workdir.cjs');
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const { parseArgs } = require('node:util');
const { collect } = require('./collect.cjs');
const { pinStdio, readExactly, writeFully } = require('./stdio.cjs');

pinStdio();

const PROTOCOL = 3;
const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: WORKDIR };
/** Larger than any valid request (4 MiB code, 32 MiB files as base64): anything bigger is not one. */
const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** How long the sweep waits for killed processes to be reaped before giving up on collection. */
const SWEEP_TIMEOUT_MS = 5_000;
const SUPERVISOR_FAILURE = 125;
const JOB_FD = 3;
/** The node child's exit declaration (see declaredExit). */
const EXIT_FD = 4;
const MAX_DECLARATION_CHARS = 16;
const RUNNER_DIR = '/opt/cordon/runner';

/** Where the tools are unless the command line says otherwise (the runtime image's layout). */
const DEFAULT_PATHS = {
  node: '/usr/local/bin/node',
  python: '/usr/bin/python3',
  bash: '/bin/bash',
  prlimit: '/usr/bin/prlimit',
  perl: '/usr/bin/perl',
  'node-path': '/usr/local/lib/node_modules',
};
/** The forwarder binds a few sockets: seconds mean something is broken. */
const FORWARDER_READY_MS = 10_000;
const MAX_FORWARDER_STDERR = 2048;

/** The booted children: each becomes the program when its job arrives. */
function bootedChild(options) {
  // Under an allow-list: every agent goes through the proxy variables (egress-agent.cjs), and Node 22's
  // note that its env proxy agent is experimental (on the first request through it) is not the program's output.
  const egress =
    options.egressSocket === undefined
      ? []
      : ['--require', `${RUNNER_DIR}/egress-agent.cjs`, '--disable-warning=UNDICI-EHPA'];
  if (options.kind === 'node')
    return { command: options.paths.node, args: [...egress, `${RUNNER_DIR}/child.cjs`], script: 'main.js' };
  return { command: options.paths.python, args: ['-u', `${RUNNER_DIR}/child.py`], script: 'main.py' };
}

/**
 * An allow-list container's Env carries the program's proxy variables under this
 * prefix, so that they reach the booted node (Node reads NODE_USE_ENV_PROXY at
 * start-up only) but not this process, which would set up a proxy agent of its own.
 */
const BOOT_ENV_PREFIX = 'CORDON_BOOT_ENV_';

/**
 * What the interpreters read at start; the program's own environment is set when its
 * job arrives. Under an allow-list the booted node also starts with the container's
 * proxy variables: NODE_USE_ENV_PROXY is read at start-up, not from the job's env.
 */
function bootEnv(options) {
  if (options.kind === 'python')
    return { ...BASE_ENV, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  const nodePath = options.paths['node-path'];
  const proxy =
    options.egressSocket === undefined
      ? {}
      : Object.fromEntries(
          Object.entries(process.env)
            .filter(([name]) => name.startsWith(BOOT_ENV_PREFIX))
            .map(([name, value]) => [name.slice(BOOT_ENV_PREFIX.length), value]),
        );
  return { ...BASE_ENV, LANG: 'C.UTF-8', ...(nodePath === '' ? {} : { NODE_PATH: nodePath }), ...proxy };
}

function checkedPath(name, value) {
  if (value === undefined) return DEFAULT_PATHS[name];
  if (name === 'node-path' && value === '') return value;
  if (!path.posix.isAbsolute(value) || value.includes('\0'))
    throw new Error(`--${name} must be an absolute path (got ${JSON.stringify(value)})`);
  return value;
}

function readOptions() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      kind: { type: 'string' },
      uid: { type: 'string' },
      nproc: { type: 'string' },
      'egress-socket': { type: 'string' },
      ...Object.fromEntries(Object.keys(DEFAULT_PATHS).map((name) => [name, { type: 'string' }])),
    },
    strict: true,
  });
  const kind = values.kind;
  if (kind !== 'node' && kind !== 'python') throw new Error(`--kind must be node or python (got ${kind})`);
  const uid = Number(values.uid);
  if (!/^\d+$/.test(values.uid ?? '') || !Number.isInteger(uid) || uid >= 2 ** 31)
    throw new Error(`--uid must be a uid (got ${values.uid})`);
  const nproc = values.nproc === undefined ? undefined : Number(values.nproc);
  if (nproc !== undefined && (!/^\d+$/.test(values.nproc) || !Number.isInteger(nproc) || nproc < 1))
    throw new Error(`--nproc must be a positive integer (got ${values.nproc})`);
  const paths = Object.fromEntries(Object.keys(DEFAULT_PATHS).map((name) => [name, checkedPath(name, values[name])]));
  const egressSocket = values['egress-socket'];
  if (egressSocket !== undefined && !/^\/[A-Za-z0-9_./-]{1,200}$/.test(egressSocket))
    throw new Error(`--egress-socket must be an absolute path (got ${JSON.stringify(egressSocket)})`);
  return { kind, uid, nproc, paths, egressSocket };
}

/**
 * Under an allow-list the sandbox has no network but loopback: the forwarder
 * (egress-forwarder.pl, scope proxy) serves the HTTP and SOCKS5 proxies and the
 * resolver there, relaying each to the execution's broker session (`--egress-socket`,
 * on the volume the broker shares). It runs as the program's uid, before the job: the
 * program could dial the socket itself and would gain nothing the forwarder does not
 * relay, since the broker judges every attempt. It ends with this process (its stdin)
 * or in the sweep. Resolves once it listens.
 */
function startForwarder(options) {
  const forwarder = spawn(
    options.paths.perl,
    [`${RUNNER_DIR}/egress-forwarder.pl`, options.egressSocket, 'sandbox', 'proxy'],
    {
      env: { PATH: BASE_ENV.PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid === 0 ? {} : { uid: options.uid, gid: options.uid }),
    },
  );
  forwarder.stdin.on('error', () => undefined);
  let stderr = '';
  forwarder.stderr.on('data', (chunk) => {
    if (stderr.length < MAX_FORWARDER_STDERR) stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const fail = (why) => {
      clearTimeout(timer);
      forwarder.kill('SIGKILL');
      reject(new Error(`the egress forwarder could not start: ${why}${stderr.trim() ? ` (${stderr.trim()})` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${FORWARDER_READY_MS} ms`), FORWARDER_READY_MS);
    const exitedEarly = (code, signal) => fail(`it exited with ${code ?? signal}`);
    forwarder.on('error', (error) => fail(error.message));
    forwarder.on('exit', exitedEarly);
    forwarder.stdout.on('data', (chunk) => {
      stdout += chunk.toString('utf8');
      if (!stdout.includes('ready\n')) return;
      clearTimeout(timer);
      forwarder.off('exit', exitedEarly);
      resolve(forwarder);
    });
  });
}

/** Runs `fn` with the program's effective uid and gid (root's own are restored after). */
function asProgram(uid, fn) {
  if (uid === 0) return fn();
  process.setegid(uid);
  process.seteuid(uid);
  try {
    return fn();
  } finally {
    process.seteuid(0);
    process.setegid(0);
  }
}

/**
 * Starts a process under the sandbox uid. RLIMIT_NPROC (`--nproc`) is set by prlimit in
 * that process only, never on root's: under gVisor root is counted too, and on a
 * shared kernel root's count is the whole machine's.
 */
function spawnProgram(options, command, args, env, stdio) {
  const argv =
    options.nproc === undefined
      ? [command, ...args]
      : [options.paths.prlimit, `--nproc=${options.nproc}`, '--', command, ...args];
  // No cwd option: it would chdir before dropping root, which cannot enter the 0700 workdir;
  // the child inherits this process's cwd, the workdir, entered as the program's uid.
  const spawned = spawn(argv[0], argv.slice(1), {
    env,
    stdio,
    ...(options.uid === 0 ? {} : { uid: options.uid, gid: options.uid }),
  });
  spawned.on('error', () => undefined);
  // The program may exit (or shut its fd 0) before taking all of its stdin: EPIPE is not ours.
  if (spawned.stdin) spawned.stdin.on('error', () => undefined);
  return spawned;
}

/** The host ended fd 0 before a payload came: nothing to run, nobody to report to. */
class HostGoneError extends Error {}

function readPayload() {
  let header;
  try {
    header = readExactly(0, 4);
  } catch (error) {
    throw new HostGoneError(`fd 0 ended before a payload came (${error.message})`);
  }
  const length = header.readUInt32BE(0);
  if (length > MAX_PAYLOAD_BYTES) throw new Error(`payload of ${length} bytes is larger than ${MAX_PAYLOAD_BYTES}`);
  const payload = JSON.parse(readExactly(0, length).toString('utf8'));
  if (payload.v !== PROTOCOL)
    throw new Error(`unsupported payload version ${payload.v} (this runner speaks ${PROTOCOL})`);
  if (typeof payload.nonce !== 'string' || !/^[0-9a-f]{16,64}$/.test(payload.nonce))
    throw new Error('the payload has no valid nonce');
  if (!Number.isSafeInteger(payload.stdinBytes) || payload.stdinBytes < 0)
    throw new Error(`the payload's stdinBytes must be an integer >= 0 (got ${JSON.stringify(payload.stdinBytes)})`);
  return payload;
}

/** Set once the trailer is being written: from then on the end of fd 0 is the host done reading. */
let reporting = false;

/**
 * fd 0 as a stream. Pipes and sockets (what docker and kubectl attach) are polled by the
 * event loop, never read by a threadpool thread: Node's exit joins those threads, so
 * one blocked in read(0) would hold this process's exit until the host wrote again.
 */
function hostStream() {
  const stat = fs.fstatSync(0);
  if (stat.isFIFO() || stat.isSocket()) return new net.Socket({ fd: 0, readable: true, writable: false });
  if (tty.isatty(0)) return new tty.ReadStream(0);
  return fs.createReadStream('', { fd: 0, autoClose: false });
}

/**
 * The host's side of the run on fd 0, after the payload: `stdinBytes` bytes are copied
 * to the program's stdin (buffered here as needed, so a program that never reads
 * stalls nothing), which is then shut; whatever follows is dropped; the end of fd 0 or
 * a read error before the trailer means the host is gone, and so is the run.
 */
function relayHost(stdinBytes, programStdin) {
  let remaining = stdinBytes;
  if (remaining === 0) programStdin.end();
  const hostGone = () => {
    if (reporting) return;
    killOnce();
    process.exit(SUPERVISOR_FAILURE);
  };
  const host = hostStream();
  host.on('error', hostGone);
  host.on('end', hostGone);
  host.on('close', hostGone);
  host.on('data', (chunk) => {
    if (remaining === 0) return;
    const taken = chunk.length <= remaining ? chunk : chunk.subarray(0, remaining);
    remaining -= taken.length;
    if (!programStdin.destroyed) programStdin.write(taken);
    if (remaining === 0) programStdin.end();
  });
}

/**
 * Writes the job at once and closes the pipe, so the child sees it without waiting
 * for this event loop's next turn (a few ms under gVisor). Through the socket's own
 * descriptor when Node exposes it, else as a stream.
 */
function sendJob(socket, job) {
  const fd = socket._handle && socket._handle.fd;
  if (typeof fd !== 'number' || fd < 0) {
    socket.end(job);
    return;
  }
  writeFully(fd, job);
  socket.destroy();
}

/** How the program ended; rejects when it never started (Node then sets a negative errno as exitCode). */
function exited(child) {
  const failed = () => new Error(`could not start ${child.spawnfile} (${child.exitCode})`);
  if (child.exitCode !== null && child.exitCode < 0) return Promise.reject(failed());
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => reject(child.exitCode !== null && child.exitCode < 0 ? failed() : error));
  });
}

/**
 * The node child says `E <code>` on fd 4 as the last thing before it exits, after
 * every exit listener ran and its output was written. Its own teardown then costs a
 * few ms that tell nobody anything, so the run ends on the declaration: the process is
 * killed at once. A program can only declare the exit code it could give itself
 * (process.exit); a crash or a signal never declares, and waitpid reports it.
 */
function declaredExit(stream) {
  return new Promise((resolve) => {
    let text = '';
    stream.on('error', () => undefined);
    stream.on('data', (chunk) => {
      if (text.length > MAX_DECLARATION_CHARS) return;
      text += chunk.toString('latin1');
      const match = /^E (\d{1,3})\n/.exec(text);
      if (match && Number(match[1]) <= 255) resolve({ code: Number(match[1]), signal: null });
    });
  });
}

function killOnce() {
  try {
    process.kill(-1, 'SIGKILL');
  } catch {
    // ESRCH: nothing left to signal.
  }
}

function otherProcesses() {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== 1 && pid !== process.pid);
}

/**
 * SIGKILLs every process but PID 1 and this one (kill(-1) reaches exactly those:
 * the program's, all of the sandbox uid) until /proc shows none, so nothing can write
 * output after the trailer or change the files while they are collected.
 */
async function killProgramProcesses() {
  const started = Date.now();
  for (;;) {
    killOnce();
    if (otherProcesses().length === 0) return true;
    if (Date.now() - started > SWEEP_TIMEOUT_MS) return false;
    // Yield, so libuv reaps the children that are this process's own.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function writeTrailers(nonce, body) {
  const marker = `\0cordon:${nonce}:`;
  writeFully(1, `${marker}\0`);
  writeFully(2, Buffer.concat([Buffer.from(marker), Buffer.from(JSON.stringify(body)), Buffer.from([0])]));
}

async function main() {
  const options = readOptions();
  if (process.getuid() !== 0)
    throw new Error(
      'the supervisor must run as root (holding CAP_SETUID, CAP_SETGID, CAP_KILL): it runs the program as another uid',
    );
  const child = bootedChild(options);
  // Root's supplementary groups would widen what the collection can read.
  if (options.uid !== 0) process.setgroups([]);
  if (options.egressSocket !== undefined) await startForwarder(options);
  const rootDev = asProgram(options.uid, () => {
    process.chdir(WORKDIR);
    return fs.statSync('.').dev;
  });
  // The program's stdin is a socket from this process (see relayHost), from boot on.
  const booted = spawnProgram(options, child.command, child.args, bootEnv(options), [
    'pipe',
    'inherit',
    'inherit',
    'pipe',
    ...(options.kind === 'node' ? ['pipe'] : []),
  ]);
  booted.stdio[JOB_FD].on('error', () => undefined);
  const declared = options.kind === 'node' ? declaredExit(booted.stdio[EXIT_FD]) : undefined;

  const payload = readPayload();
  const env = { ...BASE_ENV, ...payload.env };
  let program;
  let programDeclared;
  if (payload.language === 'bash') {
    booted.kill('SIGKILL');
    const script = path.posix.join(WORKDIR, 'main.sh');
    asProgram(options.uid, () => writeProgram({ files: payload.files, code: payload.code, script }));
    program = spawnProgram(options, options.paths.bash, [script], env, ['pipe', 'inherit', 'inherit']);
  } else {
    if (payload.language !== options.kind)
      throw new Error(`this runner boots ${options.kind}, not ${payload.language}`);
    const script = path.posix.join(WORKDIR, child.script);
    sendJob(booted.stdio[JOB_FD], JSON.stringify({ script, env, files: payload.files, code: payload.code }));
    program = booted;
    programDeclared = declared;
  }
  relayHost(payload.stdinBytes, program.stdin);
  return { payload, program, programDeclared, options, rootDev };
}

async function finish({ payload, program, programDeclared, options, rootDev }) {
  const { code, signal } = await Promise.race([exited(program), ...(programDeclared ? [programDeclared] : [])]);
  let result = { files: [], truncated: false, warnings: [] };
  const collecting = payload.collect.include.length > 0;
  if (!collecting) {
    // Nothing to read back: the sandbox's processes are killed, and whatever they were
    // still writing lands after the trailer, where the host no longer reads.
    killOnce();
  } else if (!(await killProgramProcesses())) {
    result.warnings.push(
      `collection skipped: processes of the sandbox were still there ${SWEEP_TIMEOUT_MS} ms after SIGKILL`,
    );
  } else {
    try {
      result = asProgram(options.uid, () =>
        collect({ root: WORKDIR, rootDev, patterns: payload.collect, bounds: payload.bounds }),
      );
    } catch (error) {
      result.warnings.push(`collection failed: ${error && error.message ? error.message : error}`);
    }
  }
  reporting = true;
  writeTrailers(payload.nonce, {
    exitCode: code,
    signal,
    files: result.files,
    filesTruncated: result.truncated,
    warnings: result.warnings,
  });
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
}

main()
  .then(finish)
  .catch((error) => {
    try {
      if (error instanceof HostGoneError) killOnce();
      writeFully(2, `cordon supervisor: ${error && error.stack ? error.stack : error}\n`);
    } finally {
      process.exit(SUPERVISOR_FAILURE);
    }
  });
