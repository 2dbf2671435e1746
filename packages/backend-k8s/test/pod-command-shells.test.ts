import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '@cordon/core';
import { DRAIN_HOLD_SECONDS, podCommand, type PodCommandOptions } from '../src/manifests.js';
import { GATE_EXIT_CODE, gateCommand } from '../src/network-gate.js';
import { TEST_PYTHON } from './support/twins.js';

// podCommand under the plain POSIX shells a user's image may have instead of bash
// (dash, busybox ash), as PID 1 of a fresh PID namespace like in a container (see
// pod-command.test.ts: never on the host, where `kill -1` means every process).
const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const has = (path: string) => existsSync(path);
const scratch = mkdtempSync(join(tmpdir(), 'cordon-k8s-shells-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// busybox picks its applet by argv[0]: a `sh` link to it is what an image's /bin/sh is.
const busyboxBinary = ['/usr/bin/busybox', '/bin/busybox'].find(has);
const busyboxSh = join(scratch, 'busybox', 'sh');
if (busyboxBinary) {
  spawnSync('mkdir', ['-p', join(scratch, 'busybox')]);
  symlinkSync(busyboxBinary, busyboxSh);
}
// bash run as sh (RHEL-like images' /bin/sh): POSIX mode, and the path does not say bash.
const bashSh = join(scratch, 'bash', 'sh');
if (has('/bin/bash')) {
  spawnSync('mkdir', ['-p', join(scratch, 'bash')]);
  symlinkSync('/bin/bash', bashSh);
}
const shells: Array<[name: string, path: string | undefined]> = [
  ['dash', ['/usr/bin/dash', '/bin/dash'].find(has)],
  ['busybox sh', busyboxBinary ? busyboxSh : undefined],
  ['bash as sh', has('/bin/bash') ? bashSh : undefined],
];
for (const [name, path] of shells)
  if (!hasBwrap || !path)
    console.warn(
      `[backend-k8s] pod command under ${name} ${process.env.CI ? 'will FAIL' : 'SKIPPED'}: needs bubblewrap and ${name} (apt-get install bubblewrap dash busybox-static)`,
    );

interface Run {
  exitCode: number | null;
  stdout: string;
  elapsedMs: number;
}

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-k8s-shellcmd-'));
  dirs.push(dir);
  return dir;
}

function runAsPid1(
  command: PodCommandOptions,
  out: string,
  options: { stdin?: string; terminateWhenStarted?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const [shell, ...args] = podCommand(command);
  const started = performance.now();
  const child = spawn(
    'bwrap',
    [
      '--unshare-all',
      // Only for the gate: it is pointed at a loopback port of this test, or at nothing.
      '--share-net',
      '--unshare-user',
      '--uid',
      '65534',
      '--gid',
      '65534',
      '--as-pid-1',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--bind',
      out,
      out,
      '--info-fd',
      '3',
      shell!,
      ...args,
    ],
    { stdio: ['pipe', 'pipe', 'inherit', 'pipe'], env: options.env ?? { PATH: process.env.PATH } },
  );
  let info = '';
  let stdout = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (info += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stdin!.end(options.stdin ?? '');
  let poll: NodeJS.Timeout | undefined;
  if (options.terminateWhenStarted) {
    poll = setInterval(() => {
      const pid = /"child-pid":\s*(\d+)/.exec(info)?.[1];
      if (pid && existsSync(join(out, 'started'))) {
        clearInterval(poll);
        process.kill(Number(pid), 'SIGTERM');
      }
    }, 20);
  }
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearInterval(poll);
      resolve({ exitCode, stdout, elapsedMs: performance.now() - started });
    });
  });
}

const holdMs = DRAIN_HOLD_SECONDS * 1000 - 100;

describe.each(shells)('pod command under %s (as PID 1 of a PID namespace)', (_name, path) => {
  const runIt = (hasBwrap && path) || process.env.CI ? it : it.skip;
  const shell = path ?? '/nonexistent';

  runIt("keeps the workload's exit code and output, after the drain hold", async () => {
    const run = await runAsPid1({ command: ['sh', '-c', 'echo hi; exit 3'], shell }, outDir());
    expect(run).toMatchObject({ exitCode: 3, stdout: 'hi\n' });
    expect(run.elapsedMs).toBeGreaterThanOrEqual(holdMs);
  });

  runIt('passes the payload on stdin to the workload', async () => {
    const run = await runAsPid1({ command: ['sh', '-c', 'cat; exit 7'], shell }, outDir(), { stdin: 'payload' });
    expect(run).toMatchObject({ exitCode: 7, stdout: 'payload' });
  });

  runIt('caps open files at 1024', async () => {
    const run = await runAsPid1({ command: ['sh', '-c', 'ulimit -n'], shell }, outDir());
    expect(run).toMatchObject({ exitCode: 0, stdout: '1024\n' });
  });

  runIt("kills the run's orphans as soon as the workload exits, and still holds", async () => {
    const out = outDir();
    const run = await runAsPid1(
      {
        command: [
          'sh',
          '-c',
          'setsid sh -c "sleep 1; echo late > $0/late" </dev/null >/dev/null 2>&1 & echo started > $0/started',
          out,
        ],
        shell,
      },
      out,
    );
    expect(existsSync(join(out, 'started'))).toBe(true);
    expect(run.exitCode).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(holdMs);
    expect(existsSync(join(out, 'late'))).toBe(false);
  });

  runIt('on SIGTERM kills the workload and its tree at once (exit 143)', async () => {
    const out = outDir();
    const run = await runAsPid1(
      {
        command: [
          'sh',
          '-c',
          'setsid sh -c "sleep 1; echo late > $0/late" </dev/null >/dev/null 2>&1 & echo started > $0/started; sleep 30; echo survived > $0/survived',
          out,
        ],
        shell,
      },
      out,
      { terminateWhenStarted: true },
    );
    expect(readFileSync(join(out, 'started'), 'utf8')).toBe('started\n');
    expect(run.exitCode).toBe(143);
    expect(run.elapsedMs).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(existsSync(join(out, 'late'))).toBe(false);
    expect(existsSync(join(out, 'survived'))).toBe(false);
  });

  runIt('runs the python gate first: no API server address, the workload runs', async () => {
    const gate = gateCommand({ interpreter: 'python', timeoutMs: 500 });
    const command = podCommand({ command: ['sh', '-c', 'echo ran; exit 5'], shell, ...gate });
    expect(command[2]).toContain('python3 -I -S -c "$0" </dev/null');
    const run = await runAsPid1({ command: ['sh', '-c', 'echo ran; exit 5'], shell, ...gate }, outDir(), {
      env: { PATH: pythonPath() },
    });
    expect(run).toMatchObject({ exitCode: 5, stdout: 'ran\n' });
  });

  runIt(
    'runs the python gate first: API server still reachable, GATE_EXIT_CODE and the workload never runs',
    async () => {
      const server = createServer((socket) => socket.on('error', () => {}));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const gate = gateCommand({ interpreter: 'python', timeoutMs: 500 });
      const run = await runAsPid1({ command: ['sh', '-c', 'echo ran'], shell, ...gate }, outDir(), {
        env: { PATH: pythonPath(), KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
      });
      expect(run).toMatchObject({ exitCode: GATE_EXIT_CODE, stdout: '' });
    },
  );
});

/** PATH with the test python first under the name python3 (the pod command calls `python3`). */
function pythonPath(): string {
  if (TEST_PYTHON === 'python3') return process.env.PATH ?? '/usr/bin:/bin';
  const dir = join(scratch, 'python');
  if (!existsSync(dir)) {
    spawnSync('mkdir', ['-p', dir]);
    symlinkSync(TEST_PYTHON, join(dir, 'python3'));
  }
  return `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}

describe('podCommand options', () => {
  it('is byte for byte what it was with the node gate and bash', () => {
    const script =
      'trap \'kill -KILL -1 2>/dev/null; exit 143\' TERM; { ulimit -n 1024 && node -e "$0" </dev/null && exec "$@"; } 0<&0 & wait $!; code=$?; kill -KILL -1 2>/dev/null; trap \'exit $code\' TERM; sleep 2 & wait $!; exit $code';
    expect(podCommand({ command: ['node', 'r.cjs'], gateSource: 'GATE' })).toEqual([
      '/bin/bash',
      '-c',
      script,
      'GATE',
      'node',
      'r.cjs',
    ]);
    expect(
      podCommand({ command: ['node', 'r.cjs'], gateSource: 'GATE', gateInterpreter: 'node', shell: '/bin/bash' }),
    ).toEqual(['/bin/bash', '-c', script, 'GATE', 'node', 'r.cjs']);
  });

  it('takes the shell and the python gate', () => {
    const [shell, dashC, script, zero] = podCommand({
      command: ['python3', 'r.py'],
      shell: '/bin/sh',
      ...gateCommand({ interpreter: 'python', timeoutMs: 100 }),
    });
    expect([shell, dashC]).toEqual(['/bin/sh', '-c']);
    // A POSIX shell gives a background job /dev/null before its redirections: stdin goes by fd 3.
    expect(script).toContain(
      'exec 3<&0; { ulimit -n 1024 && python3 -I -S -c "$0" </dev/null && exec "$@"; } 0<&3 3<&- & exec 3<&-; wait $!',
    );
    expect(zero).toContain('import os, socket, sys, time');
  });

  it('refuses a relative or odd shell and an unknown gate interpreter, naming the field', () => {
    for (const shell of ['sh', '', '/bin/my shell'])
      expect(() => podCommand({ command: ['x'], shell })).toThrow(InvalidRequestError);
    expect(() => podCommand({ command: ['x'], shell: 'sh' })).toThrow(/shell/);
    expect(() => podCommand({ command: ['x'], gateSource: 'G', gateInterpreter: 'perl' as never })).toThrow(
      /gateInterpreter/,
    );
  });
});
