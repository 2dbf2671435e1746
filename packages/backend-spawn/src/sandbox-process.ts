import { spawn, type ChildProcess, type StdioPipe } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { BackendFailureError } from '@cordon/core';
import { ignored, type RunContext, type RunOutcome } from '@cordon/core/backend';
import { boundCloseAfterKill } from './close-bound.js';
import type { ExecutionCgroup } from './cgroup.js';
import { RunnerChannel } from './runner-channel.js';
import { RunnerCollection } from './runner-collection.js';
import { childGroupLeader, killGroup } from './process-group.js';
import { encodeJob, type RunnerJob } from './runner-records.js';
import type { SandboxPlan } from './sandbox-plan.js';
import type { SandboxUser } from './sandbox-user.js';
import { decodeWaitStatus, runnerExitCode } from './wait-status.js';

const SETUP_FAILURE_STDERR_BYTES = 4096;
/** bubblewrap's status JSON is two short objects. */
const MAX_STATUS_JSON_BYTES = 64 * 1024;

/**
 * One started sandbox: bubblewrap (or the advisory wrappers) and the runner,
 * waiting for its job on the runner socket. Used exactly once.
 *
 * Its cgroup is made while bubblewrap sets up (they overlap), and the runner,
 * with anything it started, is moved in once it waits for its job: nothing of
 * the request runs before that, so the placement is race-free without a
 * wrapper process on the hot path. Its host uid (a lease) is held until the
 * sandbox is dead and its cgroup gone.
 */
export class SandboxProcess {
  readonly id: string;
  readonly #cgroupPromise: Promise<ExecutionCgroup | undefined>;
  #cgroup: ExecutionCgroup | undefined;
  readonly #prepared: Promise<void>;
  readonly #plan: SandboxPlan;
  readonly #user: SandboxUser | undefined;
  readonly #child: ChildProcess;
  readonly #streams: (Readable & Writable)[];
  readonly #channel = new RunnerChannel();
  readonly #closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #statusJson = '';
  #setupStderr = '';
  #spawnError: Error | undefined;
  /** Why the sandbox was killed for breaking a bound or the protocol. */
  #violation: string | undefined;
  /** Advisory isolation: the program's process group, once seen leading its own group under the runner. */
  #programGroup: number | undefined;
  #programGroupChecked = false;
  #onStdout: ((chunk: Buffer) => void) | undefined;
  #onStderr: ((chunk: Buffer) => void) | undefined;
  #used = false;
  #exited = false;
  #giveUp: () => void = () => undefined;
  #closeBounded = false;

  constructor(params: {
    id: string;
    plan: SandboxPlan;
    cgroup: Promise<ExecutionCgroup | undefined>;
    user?: SandboxUser | undefined;
  }) {
    const { plan } = params;
    this.id = params.id;
    this.#plan = plan;
    this.#user = params.user;
    this.#cgroupPromise = params.cgroup;
    const highestFd = Math.max(3, plan.statusFd ?? 0, ...plan.inputs.map((input) => input.fd));
    const stdio: StdioPipe[] = Array.from({ length: highestFd + 1 }, () => 'pipe');
    this.#child = spawn(plan.command, plan.args, {
      stdio,
      env: plan.env,
      cwd: plan.cwd,
      detached: plan.detached,
      ...(plan.user ?? {}),
    });
    this.#streams = this.#child.stdio as unknown as (Readable & Writable)[];
    // EPIPE and the like once the sandbox is gone; the exit status tells what happened.
    for (const stream of this.#streams)
      stream?.on(
        'error',
        ignored('spawn.sandbox', () => `stdio stream of sandbox pid ${this.#child.pid ?? 'none'}`),
      );
    this.#child.on('error', (error) => {
      this.#spawnError = error;
    });
    this.#child.stdout!.on('data', (chunk: Buffer) => this.#onStdout?.(chunk));
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      if (!this.#channel.started && this.#setupStderr.length < SETUP_FAILURE_STDERR_BYTES)
        this.#setupStderr += chunk.toString('utf8');
      this.#onStderr?.(chunk);
    });
    this.#channel.onViolation((reason) => this.#fail(`its runner broke the runner protocol: ${reason}`));
    this.#streams[3]!.on('data', (chunk: Buffer) => {
      this.#channel.push(chunk);
      this.#noteProgramGroup();
    });
    // bubblewrap reads each input to EOF while it sets the sandbox up.
    for (const input of plan.inputs) this.#streams[input.fd]!.end(input.content);
    if (plan.statusFd !== undefined) {
      this.#streams[plan.statusFd]!.on('data', (chunk: Buffer) => {
        this.#statusJson += chunk.toString('utf8');
        if (this.#statusJson.length > MAX_STATUS_JSON_BYTES)
          this.#fail(`bubblewrap's status passed ${MAX_STATUS_JSON_BYTES} bytes`);
      });
    }
    this.#child.on('exit', () => {
      this.#exited = true;
      // The runner is gone; in the advisory isolation nothing it started may outlive it. Its
      // runner stream stays open: what it wrote last (its status) may still be unread.
      if (plan.detached) this.#killTree();
    });
    this.#closed = new Promise((resolve) => {
      this.#child.on('close', (code, signal) => resolve({ code, signal }));
      this.#giveUp = () => resolve({ code: null, signal: 'SIGKILL' });
    });
    this.#prepared = this.#prepare();
    // Observed by ready(); logged here so a pool member that never gets ready says why.
    this.#prepared.catch(ignored('spawn.sandbox', () => `prepare sandbox pid ${this.#child.pid ?? 'none'}`));
  }

  get cgroup(): ExecutionCgroup | undefined {
    return this.#cgroup;
  }

  /** Resolves true once the runner waits for its job inside its cgroup, false if that failed. */
  ready(): Promise<boolean> {
    return this.#prepared.then(
      () => true,
      () => false,
    );
  }

  async #prepare(): Promise<void> {
    const cgroup = await this.#cgroupPromise;
    this.#cgroup = cgroup;
    // Moving bubblewrap itself (trusted, not the sandbox) right away pays the kernel's
    // grace period for cgroup migration while it sets up, so moving the runner later is quick.
    const early =
      cgroup && this.#child.pid !== undefined
        ? cgroup
            .attach([this.#child.pid])
            .catch(ignored('spawn.cgroup', () => `early attach of bubblewrap pid ${this.#child.pid ?? 'none'}`))
        : undefined;
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
    const children = (
      await readFile(`/proc/${runner}/task/${runner}/children`, 'utf8').catch(
        ignored('spawn.sandbox', () => `read children of runner pid ${runner}`, ''),
      )
    )
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    await cgroup.attach([runner, ...children]);
  }

  /**
   * The host pid of the runner, the init of the sandbox's namespaces (what the host enters
   * to prepare its network); undefined without namespaces of its own (advisory) or once it is gone.
   */
  namespacePid(): Promise<number | undefined> {
    return this.#plan.statusFd !== undefined ? this.#sandboxInitPid() : Promise.resolve(undefined);
  }

  /** The runner's host pid, as bubblewrap reports it on the status fd. */
  async #sandboxInitPid(): Promise<number | undefined> {
    const stream = this.#streams[this.#plan.statusFd!]!;
    for (;;) {
      const pid = /"child-pid":\s*(\d+)/.exec(this.#statusJson)?.[1];
      if (pid) return Number(pid);
      const more = await Promise.race([
        new Promise<boolean>((resolve) => stream.once('data', () => resolve(true))),
        this.#closed.then(() => false),
      ]);
      if (!more) return undefined;
    }
  }

  /** Kills it, waits for its streams to close, removes its cgroup, then gives its uid back. */
  async release(): Promise<void> {
    this.kill();
    await this.#closed;
    const cgroup = await this.#cgroupPromise.catch(ignored('spawn.cgroup', 'create (released without one)'));
    await cgroup?.remove();
    await this.#user?.release();
  }

  /** Resolves once its process has closed (or counts as ended: close-bound.ts). */
  get ended(): Promise<unknown> {
    return this.#closed;
  }

  get alive(): boolean {
    return !this.#exited && this.#spawnError === undefined;
  }

  /**
   * Advisory isolation: the pid in the runner's `R` is a claim. It is checked once, while the
   * runner still lives (it sets the group in both parent and child before it says `R`),
   * and only a verified group is ever signalled, later, even after the runner is gone.
   */
  #noteProgramGroup(): void {
    if (
      !this.#plan.detached ||
      this.#programGroupChecked ||
      this.#channel.programPid === undefined ||
      this.#child.pid === undefined
    )
      return;
    this.#programGroupChecked = true;
    this.#programGroup = childGroupLeader({ pid: this.#channel.programPid, parentPid: this.#child.pid });
  }

  /** Kills the whole sandbox: the program's and the runner's process groups (advisory), bubblewrap (whose init dies with it), the cgroup's tasks. */
  kill(): void {
    this.#killTree();
    // A runner orphaned before bubblewrap armed its parent-death signal sees EOF and exits.
    this.#streams[3]?.destroy();
    this.#boundClose();
  }

  /** Once killed, the wait for its close is bounded (close-bound.ts). */
  #boundClose(): void {
    if (this.#closeBounded) return;
    this.#closeBounded = true;
    // Past the bound the sandbox counts as ended (giving up after a close is a no-op).
    void boundCloseAfterKill({
      what: `sandbox pid ${this.#child.pid ?? 'none'}`,
      closed: this.#closed,
      streams: this.#streams,
    }).then(this.#giveUp);
  }

  #killTree(): void {
    if (this.#plan.detached) {
      if (this.#programGroup !== undefined) killGroup(this.#programGroup);
      // Spawned detached: the runner leads a group (and session) we made.
      if (this.#child.pid !== undefined) killGroup(this.#child.pid);
    }
    this.#child.kill('SIGKILL');
    void this.#cgroup?.killAll();
  }

  /** A bound or the protocol was broken: nothing more is read, the sandbox dies, the run fails closed. */
  #fail(reason: string): void {
    if (this.#violation !== undefined) return;
    this.#violation = reason;
    this.kill();
  }

  /** The host uid and gid the sandbox runs as (root hosts), for what the host runs on its behalf. */
  get user(): { uid: number; gid: number } | undefined {
    return this.#user ? { uid: this.#user.uid, gid: this.#user.gid } : undefined;
  }

  /**
   * Runs one job to completion; honours `context.signal`. `beforeJob` runs once the
   * runner waits in its cgroup, with the runner's host pid (its namespaces are the
   * sandbox's); if it fails, the sandbox dies and the run fails closed.
   */
  async run(
    context: RunContext,
    job: RunnerJob,
    hooks: { beforeJob?: (runnerPid: number) => Promise<void> } = {},
  ): Promise<RunOutcome> {
    if (this.#used) throw new Error('a sandbox is used once');
    this.#used = true;
    const { request, signal } = context;
    const runnerSocket = this.#streams[3]!;
    const executionId = context.id;

    this.#onStdout = (chunk) => context.stdout.write(chunk);
    this.#onStderr = (chunk) => context.stderr.write(chunk);
    const onAbort = () => this.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) this.kill();
    try {
      await this.#prepared;
      if (hooks.beforeJob) {
        const runner = await this.namespacePid();
        if (runner === undefined) throw new Error('the sandbox runner has no pid in a namespace of its own');
        await hooks.beforeJob(runner);
      }
    } catch (error) {
      this.kill();
      await this.#closed;
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
      if (this.#spawnError)
        throw new BackendFailureError(
          'spawn',
          `could not start the sandbox: ${this.#spawnError.message}`,
          { executionId },
          { cause: this.#spawnError },
        );
      // Fail closed: without its cgroup the sandbox never runs the request.
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendFailureError(
        'spawn',
        `the sandbox could not be set up: ${reason}${this.#setupStderr.trim() ? ` (${this.#setupStderr.trim()})` : ''}`,
        { executionId },
        { cause: error },
      );
    }

    // The runner lists and sends the files itself, after the program and all it started are dead.
    const collection = job.hold
      ? new RunnerCollection({
          patterns: request.collectFiles,
          diskBytes: request.limits.diskBytes,
          send: (record) => runnerSocket.write(record),
          finish: () => runnerSocket.end(),
        })
      : undefined;
    if (collection) this.#channel.afterStatus((record) => collection.handle(record));
    for (const record of encodeJob(job)) runnerSocket.write(record);
    this.#child.stdin!.end(request.stdin ?? Buffer.alloc(0));

    const { code, signal: closeSignal } = await this.#closed;
    signal.removeEventListener('abort', onAbort);
    if (this.#violation !== undefined)
      throw new BackendFailureError('spawn', `the sandbox was killed: ${this.#violation}`, {
        executionId,
        violation: this.#violation,
      });
    if (this.#spawnError)
      throw new BackendFailureError(
        'spawn',
        `could not start the sandbox: ${this.#spawnError.message}`,
        { executionId },
        { cause: this.#spawnError },
      );
    if (!this.#channel.started && !signal.aborted) {
      throw new BackendFailureError(
        'spawn',
        `the sandbox could not be set up (exit ${code ?? closeSignal}): ${this.#setupStderr.trim() || 'no message'}`,
        { executionId },
      );
    }
    const reported = this.#channel.status;
    if (signal.aborted)
      return {
        ...(reported === undefined ? { exitCode: null, signal: 'SIGKILL' } : decodeWaitStatus(reported)!),
        oomKilled: false,
      };
    const oomKilled = (await this.#cgroup?.oomKilled()) ?? false;
    // The host's own wait status is the truth; the runner's report must agree with it.
    if (reported === undefined || runnerExitCode(reported) !== code) {
      // The memory limit can kill the runner too; then the run is an oom, not a broken sandbox.
      if (oomKilled) return { exitCode: null, signal: 'SIGKILL', oomKilled };
      const claim = reported === undefined ? 'no status' : `status ${reported}`;
      throw new BackendFailureError(
        'spawn',
        `the sandbox's runner reported ${claim} but ended with ${code ?? closeSignal}`,
        { executionId, reported, exit: code ?? closeSignal },
      );
    }
    const collected = collection?.result;
    if (collection && !collected)
      throw new BackendFailureError('spawn', 'the sandbox ended before its files were collected', { executionId });
    return {
      ...decodeWaitStatus(reported)!,
      oomKilled,
      files: collected?.files ?? [],
      filesTruncated: collected?.truncated ?? false,
      warnings: collected?.warnings ?? [],
    };
  }
}
