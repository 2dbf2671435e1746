import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '@cordon/core';
import { INTERPRETERS, type Interpreter } from '../src/interpreter.js';
import { GATE_EXIT_CODE, GATE_MESSAGE_PREFIX, gateCommand, gateSource } from '../src/network-gate.js';
import { freeTcpPort, killAll, localCommand, start, type Finished } from './support/twins.js';

// The gate writes /dev/termination-log: run it in a private /dev (bubblewrap) with that
// file bound to one of ours, so the host's /dev is never written. Network is shared:
// the only address it is pointed at is a loopback port of this test.
const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const runIt = hasBwrap || process.env.CI ? it : it.skip;
if (!hasBwrap)
  console.warn(
    `[backend-k8s] network gate twin tests ${process.env.CI ? 'will FAIL' : 'SKIPPED'}: bubblewrap (bwrap) is not installed`,
  );

const TIMEOUT_MS = 600;
const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await killAll();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function runGate(
  interpreter: Interpreter,
  service: { host?: string; port?: number },
): Promise<Finished & { terminationLog: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-k8s-gate-'));
  dirs.push(dir);
  const log = join(dir, 'termination-log');
  writeFileSync(log, '');
  const { gateSource: source, gateInterpreter } = gateCommand({ interpreter, timeoutMs: TIMEOUT_MS });
  expect(gateInterpreter).toBe(interpreter);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  if (service.host !== undefined) env.KUBERNETES_SERVICE_HOST = service.host;
  if (service.port !== undefined) env.KUBERNETES_SERVICE_PORT = String(service.port);
  const argv = [
    'bwrap',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--bind',
    log,
    '/dev/termination-log',
    '--proc',
    '/proc',
    '--unshare-pid',
    '--die-with-parent',
    ...localCommand(interpreter, source),
  ];
  const finished = await start(argv, env).finished;
  return { ...finished, terminationLog: readFileSync(log, 'utf8') };
}

async function listening(): Promise<number> {
  const server = createServer((socket) => socket.on('error', () => {}));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const message = `${GATE_MESSAGE_PREFIX} egress was still open after ${TIMEOUT_MS} ms: the NetworkPolicy is not enforced for this pod`;

describe.each(INTERPRETERS)('network gate (%s)', (interpreter) => {
  runIt(
    'refuses with GATE_EXIT_CODE and the termination message once the budget is spent while the API server is reachable',
    async () => {
      const port = await listening();
      const run = await runGate(interpreter, { host: '127.0.0.1', port });
      expect(run.exitCode).toBe(GATE_EXIT_CODE);
      expect(run.terminationLog).toBe(message);
      expect(run.stderr).toBe(`${message}\n`);
      expect(run.stdout).toBe('');
      expect(run.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    },
  );

  runIt('hands over (exit 0, no message) as soon as the API server is refused', async () => {
    const run = await runGate(interpreter, { host: '127.0.0.1', port: await freeTcpPort() });
    expect(run).toMatchObject({ exitCode: 0, terminationLog: '', stderr: '', stdout: '' });
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 2_000);
  });

  runIt('hands over (exit 0) when there is no API server address at all', async () => {
    const run = await runGate(interpreter, {});
    expect(run).toMatchObject({ exitCode: 0, terminationLog: '', stderr: '', stdout: '' });
  });
});

describe('gateCommand', () => {
  it('keeps the node gate as it was and picks the python twin on request', () => {
    expect(gateCommand({ interpreter: 'node', timeoutMs: 1234 })).toEqual({
      gateSource: gateSource(1234),
      gateInterpreter: 'node',
    });
    const python = gateCommand({ interpreter: 'python', timeoutMs: 1234 });
    expect(python.gateInterpreter).toBe('python');
    expect(python.gateSource).toContain('import os, socket, sys, time');
    expect(python.gateSource).toContain(`sys.exit(${GATE_EXIT_CODE})`);
  });

  it('refuses an unknown interpreter or a bad budget, naming the field', () => {
    expect(() => gateCommand({ interpreter: 'ruby' as Interpreter, timeoutMs: 1 })).toThrow(InvalidRequestError);
    expect(() => gateCommand({ interpreter: 'ruby' as Interpreter, timeoutMs: 1 })).toThrow(/interpreter/);
    expect(() => gateCommand({ interpreter: 'node', timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
  });
});
