import { EventEmitter } from 'node:events';
import { isWeakEnforcement, type BackendCapabilities } from '../capabilities.js';
import {
  BackendFailureError,
  CordonError,
  ExecutorClosedError,
  InvalidRequestError,
  IsolationRefusedError,
} from '../errors.js';
import { Admission } from './admission.js';
import type { EgressAudit } from '../egress/audit.js';
import { checkCollectedFiles } from './collected-files.js';
import type { Executor, ExecutorEvents, ExecutorOptions } from '../executor.js';
import { LIMIT_NAMES } from '../limits.js';
import { OutputCollector } from './output-collector.js';
import { parseExecutionRequest, type ExecutionRequest, type NormalizedRequest } from '../request.js';
import type { CollectedFile, ExecutionResult, ExecutionStatus } from '../result.js';
import { newExecutionId } from './owner.js';
import { ignored, type DebugMessage } from './debug.js';
import type { WarmPoolView } from './warm-pool.js';

export const DEFAULT_MAX_CONCURRENCY = 4;

/** What a backend's `run` gets for one execution. */
export interface RunContext {
  readonly id: string;
  readonly request: NormalizedRequest;
  /**
   * Fires when the run must stop: timeout, the caller's abort, or `close()`.
   * The backend kills the whole process tree and resolves `run` promptly.
   */
  readonly signal: AbortSignal;
  readonly stdout: OutputCollector;
  readonly stderr: OutputCollector;
}

/** What a backend's `run` reports; the status is derived by the base class. */
export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  /** The memory limit killed the program (cgroup event, `OOMKilled`). */
  oomKilled: boolean;
  files?: CollectedFile[];
  filesTruncated?: boolean;
  /** What the caller must know about this run (e.g. files left out of a collection, and why). */
  warnings?: readonly string[];
  /** The broker's audit (EgressAuditLog.snapshot()), when the backend ran one; copied to `result.egress`. */
  egress?: EgressAudit;
}

/** Backend warnings kept per result, each shortened; they describe, never carry, program data. */
const MAX_BACKEND_WARNINGS = 20;
const MAX_WARNING_CHARS = 500;

type StopReason = 'timeout' | 'aborted';

/**
 * Validation, refusal of unenforceable guarantees, admission, timeout, abort,
 * output capping and events are the same for every backend, so they live here;
 * a backend implements `run` (one sandboxed execution) and `dispose`.
 */
export abstract class BaseExecutor implements Executor {
  abstract readonly name: string;
  readonly events = new EventEmitter<ExecutorEvents>();
  readonly #admission: Admission;
  readonly #running = new Set<(reason: StopReason) => void>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Background work (removals) that `settled()` and `close()` wait for. */
  readonly #background = new Set<Promise<void>>();
  #closed = false;
  #closing: Promise<void> | undefined;

  protected constructor(options: ExecutorOptions = {}) {
    const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new InvalidRequestError('maxConcurrency', maxConcurrency, 'must be a positive integer');
    }
    this.#admission = new Admission(maxConcurrency);
  }

  abstract capabilities(): BackendCapabilities;

  /** Runs one execution in a fresh sandbox. Must honour `context.signal` and never leave anything behind. */
  protected abstract run(context: RunContext): Promise<RunOutcome>;

  /** Removes everything this executor made (pools, containers, temp directories). */
  protected abstract dispose(): Promise<void>;

  get closed(): boolean {
    return this.#closed;
  }

  execute(input: ExecutionRequest): Promise<ExecutionResult> {
    const promise = this.#execute(input);
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #execute(input: ExecutionRequest): Promise<ExecutionResult> {
    if (this.#closed) throw new ExecutorClosedError(this.name);
    const { request, warnings } = this.#checkGuarantees(parseExecutionRequest(input));
    const id = newExecutionId();
    const queuedAt = performance.now();

    let release: () => void;
    try {
      release = await this.#admission.acquire(request.signal);
    } catch (error) {
      if (this.#closed && !request.signal?.aborted) throw new ExecutorClosedError(this.name);
      void error;
      return this.#abortedBeforeStart(id, request, performance.now() - queuedAt, warnings);
    }
    const queuedMs = performance.now() - queuedAt;

    const controller = new AbortController();
    let stopReason: StopReason | undefined;
    const stop = (reason: StopReason) => {
      if (stopReason) return;
      stopReason = reason;
      controller.abort(new Error(reason));
    };
    const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
    const onCallerAbort = () => stop('aborted');
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (request.signal?.aborted) stop('aborted');
    this.#running.add(stop);

    const stdout = new OutputCollector(request.limits.outputBytes, request.onStdout);
    const stderr = new OutputCollector(request.limits.outputBytes, request.onStderr);
    const startedAt = new Date();
    const started = performance.now();
    this.events.emit('start', {
      id,
      backend: this.name,
      language: request.language,
      tags: request.tags,
      queuedMs,
      startedAt,
    });

    try {
      const outcome = await this.run({ id, request, signal: controller.signal, stdout, stderr });
      const durationMs = performance.now() - started;
      const status = deriveStatus(outcome, stopReason);
      // Whatever the backend collected, the host checks paths, patterns and caps itself.
      const checked = checkCollectedFiles(outcome.files ?? [], request.collectFiles, request.limits.diskBytes);
      const result: ExecutionResult = {
        id,
        status,
        exitCode: outcome.exitCode,
        signal: outcome.signal,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        files: checked.files,
        filesTruncated: (outcome.filesTruncated ?? false) || checked.truncated,
        durationMs: round(durationMs),
        queuedMs: round(queuedMs),
        backend: this.name,
        warnings: [...warnings, ...boundWarnings(outcome.warnings ?? []), ...checked.warnings],
        ...(outcome.egress === undefined ? {} : { egress: outcome.egress }),
      };
      this.events.emit('end', {
        id,
        backend: this.name,
        language: request.language,
        tags: request.tags,
        status,
        exitCode: outcome.exitCode,
        queuedMs: result.queuedMs,
        durationMs: result.durationMs,
      });
      return result;
    } catch (error) {
      const wrapped =
        error instanceof CordonError
          ? error
          : new BackendFailureError(
              this.name,
              error instanceof Error ? error.message : String(error),
              { executionId: id },
              { cause: error },
            );
      this.events.emit('end', {
        id,
        backend: this.name,
        language: request.language,
        tags: request.tags,
        status: undefined,
        exitCode: null,
        queuedMs: round(queuedMs),
        durationMs: round(performance.now() - started),
        error: wrapped,
      });
      throw wrapped;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onCallerAbort);
      this.#running.delete(stop);
      release();
    }
  }

  /**
   * Refuses (fail closed) any guarantee this backend cannot enforce, unless the caller
   * waived it; returns the request to run (an allow-list a backend cannot enforce,
   * once waived, runs as 'none') and the warnings owed to the caller.
   */
  #checkGuarantees(parsed: NormalizedRequest): { request: NormalizedRequest; warnings: string[] } {
    const capabilities = this.capabilities();
    let request = parsed;
    if (!capabilities.languages.includes(request.language)) {
      throw new InvalidRequestError(
        'language',
        request.language,
        `is not offered by backend "${this.name}" (it offers ${capabilities.languages.join(', ')})`,
      );
    }
    const warnings: string[] = [];
    if (request.network.mode === 'allow' && !capabilities.egress) {
      if (!request.acceptUnenforced.has('network')) {
        throw new IsolationRefusedError(
          this.name,
          'network',
          'is an egress allow-list, which this backend does not enforce yet',
          "Use network 'none' or 'open', or pass acceptUnenforced: ['network'] to run with network 'none' (nothing reachable).",
        );
      }
      // Fail closed: the waiver buys a run with nothing reachable, never one with more.
      request = { ...request, network: { mode: 'none' } };
      warnings.push(`allow-list not enforced by ${this.name}: ran with network 'none', nothing was reachable`);
    }
    if (request.network.mode === 'none' && capabilities.network !== 'kernel') {
      if (!request.acceptUnenforced.has('network')) {
        throw new IsolationRefusedError(
          this.name,
          'network',
          `is enforced only as "${capabilities.network}" here, which determined code can bypass`,
          this.networkRemedy(),
        );
      }
      warnings.push(`network isolation is ${capabilities.network} only (accepted by the caller)`);
    }
    for (const limit of LIMIT_NAMES) {
      const enforcement = capabilities.limits[limit];
      if (!isWeakEnforcement(limit, enforcement)) continue;
      if (!request.acceptUnenforced.has(limit)) {
        throw new IsolationRefusedError(
          this.name,
          `limits.${limit}`,
          `cannot be enforced here (only "${enforcement}")`,
          `Pass acceptUnenforced: ['${limit}'] to run without it, or use a backend that enforces it.`,
        );
      }
      warnings.push(`limits.${limit} is enforced as "${enforcement}" only (accepted by the caller)`);
    }
    return { request, warnings };
  }

  /** Says how to get kernel network isolation; backends override with specifics. */
  protected networkRemedy(): string {
    return "Use a backend with kernel network isolation, or pass acceptUnenforced: ['network'] to accept advisory isolation.";
  }

  #abortedBeforeStart(id: string, request: NormalizedRequest, queuedMs: number, warnings: string[]): ExecutionResult {
    this.events.emit('end', {
      id,
      backend: this.name,
      language: request.language,
      tags: request.tags,
      status: 'aborted',
      exitCode: null,
      queuedMs: round(queuedMs),
      durationMs: 0,
    });
    return {
      id,
      status: 'aborted',
      exitCode: null,
      signal: null,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      files: [],
      filesTruncated: false,
      durationMs: 0,
      queuedMs: round(queuedMs),
      backend: this.name,
      warnings,
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#admission.rejectAll(new ExecutorClosedError(this.name));
    for (const stop of this.#running) stop('aborted');
    await Promise.allSettled([...this.#inFlight]);
    await this.dispose();
    await this.backgroundSettled();
  }

  /**
   * Tracks background work (a removal after the result was returned) so `settled()` and
   * `close()` wait for it. The returned promise resolves when it is done and never rejects:
   * a failure is logged on the debug channel (area `<backend>.executor`) as `what`.
   */
  protected track(task: Promise<unknown>, what: DebugMessage): Promise<void> {
    const done = task.then(() => undefined, ignored(`${this.name}.executor`, what));
    this.#background.add(done);
    void done.then(() => this.#background.delete(done));
    return done;
  }

  /** Resolves once no work passed to `track` is in progress (including work tracked meanwhile). */
  protected async backgroundSettled(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** The executor's warm pool, when it keeps one: `settled()`, `idleSandboxIds` and `poolRefillError` read it. */
  protected warmPool(): WarmPoolView | undefined {
    return undefined;
  }

  /** What `settled()` waits for besides the warm pool and tracked work: a backend's own bookkeeping. */
  protected settleBackend(): Promise<void> {
    return Promise.resolve();
  }

  /** Ids of sandboxes idling in the warm pool (container ids, pod names, sandbox ids): held capacity, not leftovers. */
  get idleSandboxIds(): ReadonlySet<string> {
    return this.warmPool()?.idleIds() ?? new Set();
  }

  /** The last error a pool refill hit (a missing image, a daemon gone), until a refill succeeds again. */
  get poolRefillError(): unknown {
    return this.warmPool()?.refillError;
  }

  /**
   * Resolves once no background work is in progress: warm pool refills and discards,
   * removals after a result. A listing of the executor's sandboxes then shows only idle
   * pool capacity and leaks; for leak checks, tests and benchmarks.
   */
  async settled(): Promise<void> {
    do {
      await this.warmPool()?.settled();
      await this.settleBackend();
      await this.backgroundSettled();
    } while (this.#background.size > 0);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function deriveStatus(outcome: RunOutcome, stopReason: StopReason | undefined): ExecutionStatus {
  if (stopReason === 'timeout') return 'timeout';
  if (stopReason === 'aborted') return 'aborted';
  if (outcome.oomKilled) return 'oom';
  return outcome.exitCode === 0 && outcome.signal === null ? 'ok' : 'error';
}

function boundWarnings(warnings: readonly string[]): string[] {
  const kept = warnings
    .slice(0, MAX_BACKEND_WARNINGS)
    .map((warning) => (warning.length > MAX_WARNING_CHARS ? `${warning.slice(0, MAX_WARNING_CHARS)}…` : warning));
  if (warnings.length > MAX_BACKEND_WARNINGS)
    kept.push(`${warnings.length - MAX_BACKEND_WARNINGS} more warnings from the backend (not listed)`);
  return kept;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
