import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_HOLD_SECONDS, podCommand } from '../src/manifests.js';

// The pod command's shell is PID 1 of its container. Run it the same way, as PID 1 of
// a fresh PID namespace (bubblewrap, --as-pid-1), so its `kill -1` can only reach the
// processes of that namespace; never run it on the host, where -1 means every process.
const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const runIt = hasBwrap || process.env.CI ? it : it.skip;
if (!hasBwrap)
  console.warn(
    `[backend-k8s] pod command behaviour tests ${process.env.CI ? 'will FAIL' : 'SKIPPED'}: bubblewrap (bwrap) is not installed (apt-get install bubblewrap)`,
  );

interface Run {
  exitCode: number | null;
  stdout: string;
  elapsedMs: number;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-k8s-podcmd-'));
  dirs.push(dir);
  return dir;
}

/** Runs podCommand(runner) as PID 1 of a new PID namespace with `out` writable; optionally SIGTERMs it once out/started exists. */
function runAsPid1(
  runner: string[],
  out: string,
  options: { stdin?: string; terminateWhenStarted?: boolean } = {},
): Promise<Run> {
  const [shell, ...args] = podCommand({ command: runner });
  const started = performance.now();
  const child = spawn(
    'bwrap',
    [
      '--unshare-all',
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
    { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] },
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

describe('pod command (as PID 1 of a PID namespace)', () => {
  runIt('passes the payload on stdin to the runner and keeps its exit code', async () => {
    const run = await runAsPid1(['sh', '-c', 'cat; exit 7'], outDir(), { stdin: 'payload' });
    expect(run.stdout).toBe('payload');
    expect(run.exitCode).toBe(7);
  });

  runIt("kills the run's orphans as soon as the runner exits, not at the end of the drain hold", async () => {
    const out = outDir();
    // A detached grandchild that would write late one second later (inside the hold).
    const run = await runAsPid1(
      [
        'sh',
        '-c',
        'setsid sh -c "sleep 1; echo late > $0/late" </dev/null >/dev/null 2>&1 & echo started > $0/started',
        out,
      ],
      out,
    );
    expect(existsSync(join(out, 'started'))).toBe(true);
    expect(run.exitCode).toBe(0);
    // The hold itself still happens (the attach stream drains before the container exits).
    expect(run.elapsedMs).toBeGreaterThanOrEqual(DRAIN_HOLD_SECONDS * 1000 - 100);
    expect(existsSync(join(out, 'late'))).toBe(false);
  });

  runIt('on SIGTERM (pod deletion) kills the whole tree at once instead of waiting out the grace period', async () => {
    const out = outDir();
    const run = await runAsPid1(
      [
        'sh',
        '-c',
        'setsid sh -c "sleep 1; echo late > $0/late" </dev/null >/dev/null 2>&1 & echo started > $0/started; sleep 30',
        out,
      ],
      out,
      { terminateWhenStarted: true },
    );
    expect(readFileSync(join(out, 'started'), 'utf8')).toBe('started\n');
    expect(run.exitCode).toBe(143);
    expect(run.elapsedMs).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(existsSync(join(out, 'late'))).toBe(false);
  });
});
