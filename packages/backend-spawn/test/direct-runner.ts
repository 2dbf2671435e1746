import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { runnerArgs, runnerEnv } from '../src/runner.js';
import { RecordReader, type RunnerRecord } from '../src/runner-records.js';
import { acquireSandboxUser, type SandboxUser } from '../src/sandbox-user.js';

/** The runner's configuration in the advisory isolation: never PID 1, so it never runs `kill -1`. */
export function advisoryRunnerConfig(): string {
  return runnerEnv({ pidNamespaceInit: false }).CORDON_RUNNER!;
}

/** Refuses any configuration that would let the runner act as PID 1 (`kill -1`) outside a namespace. */
export function assertNotPid1(config: string): void {
  if (!/(^| )pid1=0( |$)/.test(config)) throw new Error(`refusing to start a runner without pid1=0: ${config}`);
}

/** How the runner ended. */
export interface RunnerEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Line `n` (1-based) of the runner's source, as shipped. */
export function runnerLine(n: number): string {
  return readFileSync(new URL('../src/runner.pl', import.meta.url), 'utf8').split('\n')[n - 1] ?? '';
}

/**
 * `runner.pl` as the host starts it (`perl -e`, the runner socket on fd 3), without
 * bubblewrap: in a fresh working directory, as a throwaway leased uid when the tests
 * run as root (so even a runner gone wrong reaches only that uid's processes).
 */
export class DirectRunner {
  readonly dir: string;
  readonly #user: SandboxUser | undefined;
  readonly #child: ChildProcess;
  readonly #control: Readable & Writable;
  readonly #reader = new RecordReader();
  readonly #records: RunnerRecord[] = [];
  #wake: (() => void) | undefined;
  #controlEnded = false;
  #stderr = '';
  readonly ended: Promise<RunnerEnd>;

  private constructor(config: string, user: SandboxUser | undefined) {
    assertNotPid1(config);
    this.#user = user;
    this.dir = mkdtempSync(join(tmpdir(), 'cordon-spawn-test-runner-'));
    if (user) chownSync(this.dir, user.uid, user.gid);
    this.#child = spawn(runnerArgs('perl')[0]!, runnerArgs('perl').slice(1), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', CORDON_RUNNER: config },
      cwd: this.dir,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    this.#control = this.#child.stdio[3] as Readable & Writable;
    this.#control.on('error', () => undefined);
    this.#control.on('data', (chunk: Buffer) => {
      this.#records.push(...this.#reader.push(chunk));
      this.#wake?.();
    });
    this.#control.on('end', () => {
      this.#controlEnded = true;
      this.#wake?.();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString('utf8')));
    this.ended = new Promise((resolve) =>
      this.#child.on('close', (code, signal) => resolve({ code, signal, stderr: this.#stderr })),
    );
  }

  static async start(config = advisoryRunnerConfig()): Promise<DirectRunner> {
    const root = process.getuid?.() === 0;
    const user = root ? await acquireSandboxUser({ uid: 'per-sandbox', gid: 'per-sandbox' }) : undefined;
    return new DirectRunner(config, user);
  }

  get uid(): number | undefined {
    return this.#user?.uid;
  }

  send(...records: Buffer[]): void {
    for (const record of records) this.#control.write(record);
  }

  /** The host's EOF: the runner then exits with the program's status. */
  end(): void {
    this.#control.end();
  }

  /** The runner's next record; undefined once its runner stream ended. */
  async next(): Promise<RunnerRecord | undefined> {
    while (this.#records.length === 0 && !this.#controlEnded)
      await new Promise<void>((resolve) => (this.#wake = resolve));
    return this.#records.shift();
  }

  /** Kills the runner by its pid (nothing else), then removes its directory and gives its uid back. */
  async dispose(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    await this.ended;
    rmSync(this.dir, { recursive: true, force: true });
    await this.#user?.release();
  }
}
