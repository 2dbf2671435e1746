import { spawn } from 'node:child_process';

export interface CommandOutcome {
  ms: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Spawning failed (command missing), or the command outlived `timeoutMs`. */
  error?: string;
}

/**
 * Spawns a command, collects its output and times it from spawn to exit, the way
 * a backend that starts a bare process would see it.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  timeoutMs = 60_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let error: string | undefined;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const timer = setTimeout(() => {
      error = `timed out after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (cause) => {
      error = cause.message;
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({
        ms: performance.now() - started,
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        ...(error === undefined ? {} : { error }),
      });
    });
  });
}
