import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { Writable } from 'node:stream';
import { BackendFailureError, BackendUnavailableError } from '@cordon/core';
import { type RunContext, type RunOutcome, type UidLease } from '@cordon/core/backend';
import { BACKEND_NAME } from './backend-name.js';
import { containerCreateOptions, type SandboxSpec } from './container-spec.js';
import type { ContainerExit, ContainerExits } from './container-exits.js';
import type { DockerApi } from './docker-api.js';
import {
  collectionBounds,
  encodePayload,
  imageEgressEnv,
  newRunnerNonce,
  runnerBundleFrame,
  RunnerOutput,
  RunnerTrailerError,
  type RunnerTrailer,
} from '@cordon/core/backend';
import { startError } from './start-error.js';
import { ignored } from '@cordon/core/backend';

/** Output a supervisor may print before its payload (only when it fails to boot), kept for the report. */
const EARLY_OUTPUT_CAP = 64 * 1024;

type Sink = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

/**
 * One started, attached, single-use sandbox container whose runner is booted and
 * waiting for its payload on stdin. `run` may be called once; the owner removes it.
 */
export class SandboxContainer {
  readonly id: string;
  readonly spec: SandboxSpec;
  readonly #api: DockerApi;
  readonly #exits: ContainerExits;
  readonly #stream: NodeJS.ReadWriteStream;
  readonly #ended: Promise<void>;
  #isEnded = false;
  #used = false;
  #sink: Sink | undefined;
  #early: { stream: 'stdout' | 'stderr'; chunk: Buffer }[] = [];
  #earlyBytes = 0;
  /** The program's uid, held until the container is gone (absent for a shared fixed uid). */
  readonly #lease: UidLease | undefined;

  private constructor(params: {
    api: DockerApi;
    exits: ContainerExits;
    id: string;
    stream: NodeJS.ReadWriteStream;
    spec: SandboxSpec;
    lease: UidLease | undefined;
  }) {
    const { api, stream } = params;
    this.#api = api;
    this.#exits = params.exits;
    this.#lease = params.lease;
    // Waiting in a pool is no reason to keep the process alive: when it ends, the
    // closed attach is the supervisor's EOF, and the container exits and removes itself.
    setRef(stream, false);
    this.id = params.id;
    this.#stream = stream;
    this.spec = params.spec;
    this.#ended = new Promise((resolve) => {
      const done = () => {
        this.#isEnded = true;
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
      // `on`, not `once`: a second error on a dead socket must not become an uncaught exception.
      stream.on('error', done);
    });
    api.demuxStream(stream, this.#writable('stdout'), this.#writable('stderr'));
  }

  /**
   * Creates, attaches (before start, so no output is missed) and starts a container.
   * `lease` (the program's uid) is released when the container is removed; on a failed
   * start the caller keeps it.
   */
  static async start(params: {
    api: DockerApi;
    exits: ContainerExits;
    spec: SandboxSpec;
    lease?: UidLease | undefined;
  }): Promise<SandboxContainer> {
    const { api, spec, exits } = params;
    // Subscribed before the container exists, so its exit cannot be missed.
    await exits.connect().catch(ignored('docker.events', 'subscribe to container events'));
    const id = await api.createContainer(containerCreateOptions(spec)).catch((error: unknown) => {
      throw startError(error, spec);
    });
    try {
      const stream = await api.attachContainer(id);
      const sandbox = new SandboxContainer({ api, exits, id, stream, spec, lease: params.lease });
      try {
        await api.startContainer(id);
      } catch (error) {
        stream.end();
        throw error;
      }
      // A foreign image's bootstrap reads cordon's runner first (before any payload).
      if (spec.tools) stream.write(await runnerBundleFrame());
      return sandbox;
    } catch (error) {
      await api
        .removeContainer(id)
        .catch(ignored('docker.container', () => `remove container ${id} after a failed start`));
      throw startError(error, spec);
    }
  }

  /** Still waiting for its payload: the attach stream is open and nobody used it (a warm pool member). */
  get alive(): boolean {
    return !this.#used && !this.#isEnded;
  }

  /** Resolves when the container's output streams close (it exited, or the daemon went away). */
  get ended(): Promise<void> {
    return this.#ended;
  }

  /**
   * Sends the program in, streams its output to the context, and returns at the
   * supervisor's trailer. A trailer over its bound or malformed ends the run with a
   * RunnerTrailerError once the container is killed; nothing past a bound is buffered.
   */
  async run(context: RunContext): Promise<RunOutcome> {
    if (this.#used) throw new Error('a sandbox container runs one execution only');
    this.#used = true;
    // A run in progress keeps the process alive until its result is in.
    setRef(this.#stream, true);
    const nonce = newRunnerNonce();
    const output = new RunnerOutput({
      nonce,
      bounds: collectionBounds(context.request),
      stdout: (chunk) => context.stdout.write(chunk),
      stderr: (chunk) => context.stderr.write(chunk),
    });
    const settled = new Promise<'trailer' | 'overflow'>((resolve) => {
      this.#sink = (stream, chunk) => {
        const state = output.push(stream, chunk);
        if (state !== 'pending') resolve(state === 'complete' ? 'trailer' : 'overflow');
      };
    });
    for (const { stream, chunk } of this.#early) this.#sink?.(stream, chunk);
    this.#early = [];

    const aborted = new Promise<'aborted'>((resolve) => {
      if (context.signal.aborted) resolve('aborted');
      context.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });

    // Protocol 3: the stream stays open until the run is over (it is this process's
    // liveness to the supervisor); `remove` ends it.
    // Under an allow-list proxy-aware programs (and Node's agents) are pointed at the forwarder.
    const request =
      this.spec.network === 'allow'
        ? { ...context.request, env: imageEgressEnv(context.request.env) }
        : context.request;
    this.#stream.write(encodePayload(request, nonce));
    if (context.request.stdin && context.request.stdin.byteLength > 0) this.#stream.write(context.request.stdin);

    const first = await Promise.race([settled, this.#ended.then(() => 'ended' as const), aborted]);
    if (first === 'aborted') {
      await this.kill();
      return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
    }
    if (first === 'overflow') {
      await this.kill();
      throw new RunnerTrailerError(BACKEND_NAME, output.overflowProblem, {
        executionId: context.id,
        containerId: this.id,
      });
    }
    if (first === 'ended') output.end();
    let trailer: RunnerTrailer | undefined;
    if (output.state === 'complete') {
      const decoded = output.decode();
      if (!decoded.ok) {
        await this.kill();
        throw new RunnerTrailerError(BACKEND_NAME, decoded.problem, { executionId: context.id, containerId: this.id });
      }
      trailer = decoded.trailer;
    }
    if (trailer && trailer.signal !== 'SIGKILL') return outcomeOf(trailer, false);
    // No trailer (the supervisor was killed, or never finished), or the program died of
    // SIGKILL (perhaps the OOM killer): the daemon knows the exit status and OOMKilled.
    return this.#outcomeFromDaemon(context.signal, trailer);
  }

  async #outcomeFromDaemon(signal: AbortSignal, trailer: RunnerTrailer | undefined): Promise<RunOutcome> {
    if (trailer) await this.kill();
    const exit = await this.#exitFromDaemon(signal);
    if (signal.aborted) {
      await this.kill();
      return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
    }
    const oomKilled = exit?.oomKilled === true;
    if (trailer) return outcomeOf(trailer, oomKilled);
    if (oomKilled) return { exitCode: null, signal: 'SIGKILL', oomKilled: true };
    if (exit === undefined)
      throw new BackendFailureError(
        BACKEND_NAME,
        'the container ended without a result, and the daemon no longer knows its exit status',
        {
          containerId: this.id,
        },
      );
    return { ...exitStatusOf(exit.exitCode), oomKilled: false };
  }

  /**
   * The exit as the daemon saw it: from the executor's event stream (the container
   * removes itself, so inspect would race), else from `wait` while it still exists.
   */
  async #exitFromDaemon(signal: AbortSignal): Promise<ContainerExit | undefined> {
    const exit = await this.#exits.exitOf(this.id, signal);
    if (exit || signal.aborted) return exit;
    const exitCode = await this.#api.exitCodeOf(this.id, { signal });
    return exitCode === undefined ? undefined : { exitCode, oomKilled: false };
  }

  /** SIGKILL to every process in the container; a container already gone is fine. */
  async kill(): Promise<void> {
    try {
      await this.#api.killContainer(this.id);
    } catch (error) {
      // An unreachable daemon is no reason to fail the run here: the removal that follows retries.
      if (error instanceof BackendUnavailableError) return;
      throw error;
    }
  }

  /** Kills and deletes the container (and its tmpfs), then frees its uid; safe to call more than once. */
  async remove(): Promise<void> {
    this.#stream.end();
    setRef(this.#stream, false);
    await this.#api.removeContainer(this.id);
    this.#exits.forget(this.id);
    // Only once the container is gone: no process of this uid is left anywhere.
    await this.#lease?.release();
  }

  #writable(stream: 'stdout' | 'stderr'): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.#sink) {
          this.#sink(stream, chunk);
        } else if (this.#earlyBytes < EARLY_OUTPUT_CAP) {
          const kept = chunk.subarray(0, EARLY_OUTPUT_CAP - this.#earlyBytes);
          this.#early.push({ stream, chunk: Buffer.from(kept) });
          this.#earlyBytes += kept.length;
        }
        callback();
      },
    });
  }
}

function outcomeOf(trailer: RunnerTrailer, oomKilled: boolean): RunOutcome {
  return {
    exitCode: trailer.exitCode,
    signal: trailer.signal,
    oomKilled,
    files: trailer.files,
    filesTruncated: trailer.filesTruncated,
    warnings: trailer.warnings,
  };
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** The supervisor (and tini after it) exits 128+N when the program died of signal N. */
function exitStatusOf(exitCode: number): { exitCode: number | null; signal: string | null } {
  if (exitCode > 128 && exitCode <= 128 + 64) {
    const name = SIGNAL_NAMES.get(exitCode - 128);
    if (name) return { exitCode: null, signal: name };
  }
  return { exitCode, signal: null };
}

/** Holds (or stops holding) the process open for the attach socket; streams that are not sockets are left alone. */
function setRef(stream: NodeJS.ReadWriteStream, ref: boolean): void {
  const socket = stream as Partial<Pick<Socket, 'ref' | 'unref'>>;
  if (ref) socket.ref?.();
  else socket.unref?.();
}
