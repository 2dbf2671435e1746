import { spawn, type ChildProcess, type StdioPipe } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { BackendFailureError, type RunContext, type RunOutcome } from '@cordon/core';
import type { ExecutionCgroup } from './cgroup.js';
import { collectFiles, type Collected } from './collect-files.js';
import { ControlChannel, encodeJob, type ProgramStatus, type RunnerJob } from './runner.js';
import { SANDBOX_WORKDIR, type SandboxPlan } from './sandbox-plan.js';

const SETUP_FAILURE_STDERR_BYTES = 4096;

/** Where collected files are read from after the program exits. */
export type CollectFrom = { kind: 'sandbox' } | { kind: 'host'; root: string };

/**
 * One started sandbox: bubblewrap (or the advisory wrappers) and the runner,
 * waiting for its job on the control socket. Used exactly once.
 *
 * Its cgroup is made while bubblewrap sets up (they overlap), and the runner,
 * with anything it started, is moved in once it waits for its job: nothing of
 * the request runs before that, so the placement is race-free without a
 * wrapper process on the hot path.
 */
export class SandboxProcess {
  readonly id: string;
  readonly #cgroupPromise: Promise<ExecutionCgroup | undefined>;
  #cgroup: ExecutionCgroup | undefined;
  readonly #prepared: Promise<void>;
  readonly #plan: SandboxPlan;
  readonly #child: ChildProcess;
  readonly #streams: (Readable & Writable)[];
  readonly #channel = new ControlChannel();
  readonly #closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #statusJson = '';
  #setupStderr = '';
  #spawnError: Error | undefined;
  #onStdout: ((chunk: Buffer) => void) | undefined;
  #onStderr: ((chunk: Buffer) => void) | undefined;
  #used = false;
  #exited = false;

  constructor(id: string, plan: SandboxPlan, cgroup: Promise<ExecutionCgroup | undefined>) {
    this.id = id;
    this.#plan = plan;
    this.#cgroupPromise = cgroup;
    const stdio: StdioPipe[] = Array.from({ length: Math.max(3, plan.statusFd ?? 0, plan.seccomp?.fd ?? 0) + 1 }, () => 'pipe');
    this.#child = spawn(plan.command, plan.args, { stdio, env: plan.env, cwd: plan.cwd, detached: plan.detached, ...(plan.user ?? {}) });
    this.#streams = this.#child.stdio as unknown as (Readable & Writable)[];
    for (const stream of this.#streams) stream?.on('error', () => undefined);
    this.#child.on('error', (error) => {
      this.#spawnError = error;
    });
    this.#child.stdout!.on('data', (chunk: Buffer) => this.#onStdout?.(chunk));
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      if (!this.#channel.started && this.#setupStderr.length < SETUP_FAILURE_STDERR_BYTES) this.#setupStderr += chunk.toString('utf8');
      this.#onStderr?.(chunk);
    });
    this.#streams[3]!.on('data', (chunk: Buffer) => this.#channel.push(chunk));
    // bubblewrap reads the filter to EOF before it sets the sandbox up.
    if (plan.seccomp) this.#streams[plan.seccomp.fd]!.end(plan.seccomp.program);
    if (plan.statusFd !== undefined) this.#streams[plan.statusFd]!.on('data', (chunk: Buffer) => (this.#statusJson += chunk.toString('utf8')));
    this.#child.on('exit', () => {
      this.#exited = true;
      // The runner is gone; in the advisory tier nothing it started may outlive it.
      if (plan.detached) this.kill();
    });
    this.#closed = new Promise((resolve) => this.#child.on('close', (code, signal) => resolve({ code, signal })));
    this.#prepared = this.#prepare();
    this.#prepared.catch(() => undefined);
  }

  get cgroup(): ExecutionCgroup | undefined {
    return this.#cgroup;
  }

  /** Resolves true once the runner waits for its job inside its cgroup, false if that failed. */
  ready(): Promise<boolean> {
    return this.#prepared.then(() => true, () => false);
  }

  async #prepare(): Promise<void> {
    const cgroup = await this.#cgroupPromise;
    this.#cgroup = cgroup;
    // Moving bubblewrap itself (trusted, not the sandbox) right away pays the kernel's
    // grace period for cgroup migration while it sets up, so moving the runner later is quick.
    const early = cgroup && this.#child.pid !== undefined ? cgroup.attach([this.#child.pid]).catch(() => undefined) : undefined;
    const waiting = await new Promise<boolean>((resolve) => {
      this.#channel.onWaiting(() => resolve(true));
      void this.#closed.then(() => resolve(false));
    });
    await early;
    if (!waiting) throw new Error('the sandbox exited before its runner started');
    if (!cgroup) return;
    const runner = this.#plan.statusFd !== undefined ? await this.#sandboxInitPid() : this.#child.pid;
    if (runner === undefined) throw new Error('the sandbox runner has no pid');
    // The runner, and a pre-booted Node it started (the pool); nothing else exists yet.
    const children = (await readFile(`/proc/${runner}/task/${runner}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
    await cgroup.attach([runner, ...children]);
  }

  /** The runner's host pid, as bubblewrap reports it on the status fd. */
  async #sandboxInitPid(): Promise<number | undefined> {
    const stream = this.#streams[this.#plan.statusFd!]!;
    for (;;) {
      const pid = /"child-pid":\s*(\d+)/.exec(this.#statusJson)?.[1];
      if (pid) return Number(pid);
      const more = await Promise.race([new Promise<boolean>((resolve) => stream.once('data', () => resolve(true))), this.#closed.then(() => false)]);
      if (!more) return undefined;
    }
  }

  /** Kills it, waits for its streams to close, and removes its cgroup. */
  async release(): Promise<void> {
    this.kill();
    await this.#closed;
    const cgroup = await this.#cgroupPromise.catch(() => undefined);
    await cgroup?.remove();
  }

  get alive(): boolean {
    return !this.#exited && this.#spawnError === undefined;
  }

  /** Kills the whole sandbox: the process group (advisory), bubblewrap (whose init dies with it), the cgroup's tasks. */
  kill(): void {
    try {
      if (this.#plan.detached && this.#child.pid !== undefined) process.kill(-this.#child.pid, 'SIGKILL');
    } catch {
      // Group already gone.
    }
    this.#child.kill('SIGKILL');
    // A runner orphaned before bubblewrap armed its parent-death signal sees EOF and exits.
    this.#streams[3]?.destroy();
    void this.#cgroup?.killAll();
  }

  /** Runs one job to completion; honours `context.signal`. */
  async run(context: RunContext, job: RunnerJob, collectFrom: CollectFrom): Promise<RunOutcome> {
    if (this.#used) throw new Error('a sandbox is used once');
    this.#used = true;
    const { request, signal } = context;
    const control = this.#streams[3]!;
    let collected: Collected | undefined;
    let collecting: Promise<void> | undefined;

    this.#onStdout = (chunk) => context.stdout.write(chunk);
    this.#onStderr = (chunk) => context.stderr.write(chunk);
    const onAbort = () => this.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) this.kill();
    try {
      await this.#prepared;
    } catch (error) {
      this.kill();
      await this.#closed;
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
      if (this.#spawnError) throw new BackendFailureError('spawn', `could not start the sandbox: ${this.#spawnError.message}`, { executionId: context.id }, { cause: this.#spawnError });
      // Fail closed: without its cgroup the sandbox never runs the request.
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendFailureError('spawn', `the sandbox could not be set up: ${reason}${this.#setupStderr.trim() ? ` (${this.#setupStderr.trim()})` : ''}`, { executionId: context.id }, { cause: error });
    }

    this.#channel.onStatus(() => {
      if (this.#plan.detached) {
        // The program exited; background children it left must not hold the streams open.
        this.kill();
        return;
      }
      if (!job.hold || collectFrom.kind !== 'sandbox') return;
      collecting = this.#collectFromSandbox(request.collectFiles, request.limits.diskBytes)
        .then((result) => {
          collected = result;
        })
        .finally(() => control.end());
    });
    for (const record of encodeJob(job)) control.write(record);
    this.#child.stdin!.end(request.stdin ?? Buffer.alloc(0));

    const { code, signal: closeSignal } = await this.#closed;
    signal.removeEventListener('abort', onAbort);
    await collecting;
    if (this.#spawnError) throw new BackendFailureError('spawn', `could not start the sandbox: ${this.#spawnError.message}`, { executionId: context.id }, { cause: this.#spawnError });
    if (!this.#channel.started && !signal.aborted) {
      throw new BackendFailureError('spawn', `the sandbox could not be set up (exit ${code ?? closeSignal}): ${this.#setupStderr.trim() || 'no message'}`, { executionId: context.id });
    }
    const status: ProgramStatus = this.#channel.status ?? { exitCode: signal.aborted ? null : code, signal: signal.aborted ? 'SIGKILL' : closeSignal };
    if (collectFrom.kind === 'host' && request.collectFiles.length > 0 && !signal.aborted) {
      collected = await collectFiles(collectFrom.root, request.collectFiles, request.limits.diskBytes);
    }
    const oomKilled = (await this.#cgroup?.oomKilled()) ?? false;
    return { ...status, oomKilled, files: collected?.files ?? [], filesTruncated: collected?.truncated ?? false };
  }

  /** Reads collected files through the sandbox init's view of its own tmpfs while the runner holds it open. */
  async #collectFromSandbox(patterns: readonly string[], capBytes: number): Promise<Collected> {
    // bubblewrap reports the runner's host pid on the status fd; its children file is the fallback.
    const bwrapPid = this.#child.pid;
    const pid = /"child-pid":\s*(\d+)/.exec(this.#statusJson)?.[1] ?? (bwrapPid === undefined ? undefined : (await readFile(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/)[0]);
    if (!pid) return { files: [], truncated: false };
    return collectFiles(`/proc/${pid}/root${SANDBOX_WORKDIR}`, patterns, capBytes).catch(() => ({ files: [], truncated: false }));
  }
}
