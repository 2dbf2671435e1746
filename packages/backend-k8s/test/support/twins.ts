import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { interpreterCommand, type Interpreter } from '../../src/interpreter.js';

/** The python3 the twins run with locally; CORDON_TEST_PYTHON picks another (e.g. a 3.9). */
export const TEST_PYTHON = process.env.CORDON_TEST_PYTHON ?? 'python3';

/** interpreterCommand, with the local test python in place of the image's python3. */
export function localCommand(interpreter: Interpreter, source: string): string[] {
  const argv = interpreterCommand(interpreter, source);
  return interpreter === 'python' ? [TEST_PYTHON, ...argv.slice(1)] : argv;
}

export interface Finished {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  finished: Promise<Finished>;
}

const running = new Set<ChildProcess>();

/** Starts argv with stdin closed; stop() or killAll() ends it. */
export function start(argv: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const startedAt = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      running.delete(child);
      resolve({ exitCode, stdout, stderr, elapsedMs: performance.now() - startedAt });
    });
  });
  return { child, stdout: () => stdout, finished };
}

export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) =>
          child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('close', resolve),
        ),
    ),
  );
}

/** A loopback TCP port nothing listens on (for a moment: it was just free). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
