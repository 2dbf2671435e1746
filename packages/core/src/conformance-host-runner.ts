import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Language } from './request.js';

export interface HostRunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
}

/** `/usr/bin/python3` when present (version managers' shims are not reliable here), else python3 on PATH. */
export function hostPython(): string | undefined {
  return findExecutable('/usr/bin/python3') ?? findOnPath('python3');
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (dir === '') continue;
    const found = findExecutable(join(dir, name));
    if (found) return found;
  }
  return undefined;
}

function findExecutable(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

/** The interpreter command line for `code` on the host. */
export function hostCommand(language: Language, code: string): [string, string[]] | undefined {
  switch (language) {
    case 'node':
      return [process.execPath, ['-e', code]];
    case 'python': {
      const python = hostPython();
      return python ? [python, ['-c', code]] : undefined;
    }
    case 'bash': {
      const bash = findExecutable('/bin/bash') ?? findOnPath('bash');
      return bash ? [bash, ['-c', code]] : undefined;
    }
  }
}

/**
 * Runs code directly on the host, unisolated, in a fresh temp directory, with a
 * minimal environment. The suite uses it only for control runs no sandbox can
 * make: a Unix socket canary lives at a host path (or in the host's network
 * namespace, for abstract sockets), which a working sandbox never sees even with
 * its network open, so only the host can prove the probe code reaches it.
 */
export async function runOnHost(language: Language, code: string, timeoutMs = 15_000): Promise<HostRunResult> {
  const command = hostCommand(language, code);
  if (!command) {
    return { stdout: '', stderr: `no ${language} interpreter on the host`, exitCode: null, signal: null, timedOut: false, durationMs: 0 };
  }
  const cwd = await mkdtemp(join(tmpdir(), 'cordon-conformance-host-'));
  const started = performance.now();
  try {
    return await new Promise<HostRunResult>((resolve) => {
      const child = spawn(command[0], command[1], {
        cwd,
        env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: cwd },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        resolve({ stdout, stderr: stderr + String(error), exitCode: null, signal: null, timedOut, durationMs: performance.now() - started });
      });
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        killGroup();
        resolve({ stdout, stderr, exitCode, signal, timedOut, durationMs: performance.now() - started });
      });
    });
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
