import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Language } from '../request.js';
import { debug } from '../backend/debug.js';

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
  } catch (error) {
    debug('conformance.host', () => `${path} not executable`, error);
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
    return {
      stdout: '',
      stderr: `no ${language} interpreter on the host`,
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: 0,
    };
  }
  return startOnHost(command, { timeoutMs }).done;
}

export interface HostProcessHandle {
  /** Settles when the process has exited and its temp directory is gone. */
  readonly done: Promise<HostRunResult>;
  /** Kills its whole process group. */
  stop(): void;
}

/**
 * Starts a command on the host, unisolated, in its own process group and a fresh
 * temp directory (readable by any uid, for commands that drop to another user),
 * with a minimal environment; `onStdout` sees its output as it comes. For
 * controls no sandbox can make (see `runOnHost`, and the shared-resources probes).
 */
export function startOnHost(
  command: readonly [string, readonly string[]],
  options: { timeoutMs?: number; onStdout?: (text: string) => void } = {},
): HostProcessHandle {
  // A stop asked for before the process exists kills it as soon as it does.
  let stopped = false;
  let kill: (() => void) | undefined;
  const done = (async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'cordon-conformance-host-'));
    await chmod(cwd, 0o755);
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
        child.stdout.on('data', (chunk: Buffer) => {
          const text = chunk.toString();
          stdout += text;
          options.onStdout?.(text);
        });
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const killGroup = () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch (error) {
            // Already gone.
            debug('conformance.host', () => `kill process group ${child.pid ?? 'none'}`, error);
          }
        };
        kill = killGroup;
        if (stopped) killGroup();
        const timer = setTimeout(() => {
          timedOut = true;
          killGroup();
        }, options.timeoutMs ?? 15_000);
        child.on('error', (error) => {
          clearTimeout(timer);
          resolve({
            stdout,
            stderr: stderr + String(error),
            exitCode: null,
            signal: null,
            timedOut,
            durationMs: performance.now() - started,
          });
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
  })();
  return {
    done,
    stop: () => {
      stopped = true;
      kill?.();
    },
  };
}
