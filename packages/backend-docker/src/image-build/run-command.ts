import { spawn } from 'node:child_process';

export interface RunCommandOptions {
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** Each line of stderr (and of stdout with `streamStdout`), as it comes. */
  onLine?: ((line: string) => void) | undefined;
  streamStdout?: boolean;
}

export interface CommandResult {
  /** Exit code; null when a signal ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command is not installed (ENOENT). */
  missing: boolean;
}

/** How much of a failed command's output an error keeps. */
const TAIL_CHARS = 4_000;

/** Runs a command to its end, never throwing for its exit status (the caller decides). */
export function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    const lines = (streamed: boolean) => {
      let pending = '';
      return (chunk: string) => {
        if (!streamed || !options.onLine) return;
        pending += chunk;
        const parts = pending.split(/\r\n|\n|\r/);
        pending = parts.pop() ?? '';
        for (const line of parts) if (line.trim() !== '') options.onLine(line);
      };
    };
    const outLines = lines(options.streamStdout === true);
    const errLines = lines(true);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      outLines(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      errLines(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') resolve({ code: null, stdout, stderr, missing: true });
      else reject(error);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, missing: false }));
  });
}

/** The last part of a command's output, for an error's context. */
export function outputTail(result: Pick<CommandResult, 'stdout' | 'stderr'>): string {
  return `${result.stdout}${result.stderr}`.slice(-TAIL_CHARS);
}
