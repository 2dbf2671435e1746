import { randomBytes } from 'node:crypto';
import type { BackendCapabilities, NetworkEnforcement } from '../capabilities.js';
import { isWeakEnforcement } from '../capabilities.js';
import type { CanarySet } from './canaries/set.js';
import type { ConformanceAdapter } from './adapter.js';
import { runOnHost } from './on-host.js';
import type { CanaryEndpoints, RunRecord } from './types.js';
import type { Executor } from '../executor.js';
import { LIMIT_NAMES, type LimitName } from '../limits.js';
import { parseProbeOutput, type ProbeOutput } from './probes/output.js';
import type { ExecutionRequest, Language, WaivableGuarantee } from '../request.js';
import type { ExecutionResult } from '../result.js';
import { ignored } from '../backend/debug.js';

/** A secret planted in the host for one suite run: in this process's env, the host process canary, and fake key files. */
export interface PlantedSecret {
  readonly name: string;
  readonly value: string;
  /** In the host process canary's command line, so a probe can recognise it. */
  readonly marker: string;
  /** Fake private keys on the host that an unisolated sandbox would be able to read. */
  readonly keyFiles: readonly string[];
}

/** One execution's outcome as probes need it: the result (if any), its parsed output and its report record. */
export interface RunOutput {
  readonly result: ExecutionResult | undefined;
  readonly output: ProbeOutput;
  readonly record: RunRecord;
  /** What `execute` threw instead of a result (its message is `record.error`). */
  readonly thrown?: unknown;
}

export type RunWhere = 'sandbox' | 'control' | 'host';

/** Default wall-clock limit for a probe's execution; probes time out their own steps well before. */
export const PROBE_TIMEOUT_MS = 20_000;
/** How long past its timeout an execution may take to return before the suite gives up on it. */
export const RETURN_GRACE_MS = 15_000;

/** Everything a probe needs during one suite run. */
export class SuiteContext {
  readonly executor: Executor;
  readonly capabilities: BackendCapabilities;
  readonly networkEnforcement: NetworkEnforcement;
  /** Every nonce handed out; the final leftover scan looks for processes carrying any of them. */
  readonly nonces = new Set<string>();
  /** Host paths probes may have created (only if unisolated); removed at the end. */
  readonly hostPathsToRemove = new Set<string>();

  constructor(
    readonly adapter: ConformanceAdapter,
    readonly canaries: CanarySet,
    readonly secret: PlantedSecret,
    readonly signal: AbortSignal | undefined,
    /** Whether result `id` of property `group` was asked for (`only`); checks that yield several skip the runs of the others. */
    readonly wants: (id: string, group: string) => boolean = () => true,
  ) {
    this.executor = adapter.executor;
    this.capabilities = adapter.executor.capabilities();
    this.networkEnforcement = this.capabilities.network;
  }

  /** The backend's reason why result `id` (or its group, the part before `:`) cannot be checked here. */
  declaredNotApplicable(id: string): string | undefined {
    const declared = this.adapter.notApplicable;
    return declared?.[id] ?? declared?.[id.split(':')[0] ?? id];
  }

  get endpoints(): CanaryEndpoints {
    return this.canaries.endpoints;
  }

  offers(language: Language): boolean {
    return this.capabilities.languages.includes(language);
  }

  /** A fresh nonce: 12 lowercase hex characters (fits a ping pattern and a DNS label). */
  nonce(): string {
    const nonce = randomBytes(6).toString('hex');
    this.nonces.add(nonce);
    return nonce;
  }

  /** Why the backend enforces `limit` only weakly, or undefined when it enforces it. */
  weakLimit(limit: LimitName): string | undefined {
    const enforcement = this.capabilities.limits[limit];
    return isWeakEnforcement(limit, enforcement)
      ? `the backend declares limits.${limit} as "${enforcement}"`
      : undefined;
  }

  /**
   * Guarantees every probe run waives: the network under advisory isolation (else the
   * executor refuses the run) and every limit the backend declares weak, so that a
   * network probe is not refused for an unrelated limit.
   */
  acceptUnenforced(): WaivableGuarantee[] {
    const accepted: WaivableGuarantee[] = LIMIT_NAMES.filter((limit) => this.weakLimit(limit) !== undefined);
    if (this.networkEnforcement !== 'kernel') accepted.push('network');
    return accepted;
  }

  /**
   * Runs in the sandbox (network `none`), or as the adapter's control (network open).
   * A `signal` on the request stops this run alone; the suite's signal stops it too.
   */
  run(where: 'sandbox' | 'control', request: Omit<ExecutionRequest, 'network'>, nonce?: string): Promise<RunOutput> {
    const adapter = this.adapter;
    const execute =
      where === 'control' && adapter.control
        ? (full: ExecutionRequest) => adapter.control?.(full) ?? adapter.executor.execute(full)
        : (full: ExecutionRequest) => this.executor.execute(full);
    return this.#run(where, where === 'sandbox' ? 'none' : 'open', execute, request, nonce);
  }

  /** Runs in the sandbox under `network` (an egress allow-list): both sides of an egress probe run this way. */
  runWithNetwork(
    network: NonNullable<ExecutionRequest['network']>,
    request: Omit<ExecutionRequest, 'network'>,
    nonce?: string,
  ): Promise<RunOutput> {
    return this.#run('sandbox', network, (full) => this.executor.execute(full), request, nonce);
  }

  /** Runs on another executor of the backend (network `none`), recorded as a control: e.g. `adapter.sharedUserControl`. */
  runOn(executor: Executor, request: Omit<ExecutionRequest, 'network'>, nonce?: string): Promise<RunOutput> {
    return this.#run('control', 'none', (full) => executor.execute(full), request, nonce);
  }

  async #run(
    where: 'sandbox' | 'control',
    network: NonNullable<ExecutionRequest['network']>,
    execute: (request: ExecutionRequest) => Promise<ExecutionResult>,
    request: Omit<ExecutionRequest, 'network'>,
    nonce: string | undefined,
  ): Promise<RunOutput> {
    const signals = [this.signal, request.signal].filter((signal): signal is AbortSignal => signal !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const full: ExecutionRequest = {
      timeoutMs: PROBE_TIMEOUT_MS,
      acceptUnenforced: this.acceptUnenforced(),
      ...request,
      network,
      ...(signal ? { signal } : {}),
      tags: { 'cordon.conformance': nonce ?? 'property', ...request.tags },
    };
    const started = performance.now();
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const execution = execute(full);
      // A backend that never returns after its own timeout must not hang the suite; it shows up as invalid instead.
      const overdue = new Promise<never>((_, reject) => {
        const limitMs = (full.timeoutMs ?? PROBE_TIMEOUT_MS) + RETURN_GRACE_MS;
        watchdog = setTimeout(
          () =>
            reject(
              new Error(
                `the backend did not return within ${limitMs} ms (timeoutMs ${full.timeoutMs ?? PROBE_TIMEOUT_MS} + ${RETURN_GRACE_MS} ms grace)`,
              ),
            ),
          limitMs,
        );
      });
      // Handled through the race below; logged so a late failure past the deadline is seen.
      execution.catch(ignored('conformance.run', 'an execution'));
      const result = await Promise.race([execution, overdue]);
      return toRunOutput(where, nonce, result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        result: undefined,
        output: parseProbeOutput(''),
        record: {
          where,
          ...(nonce ? { nonce } : {}),
          status: 'threw',
          exitCode: null,
          signal: null,
          durationMs: Math.round(performance.now() - started),
          steps: [],
          missingTools: [],
          error: message,
        },
        thrown: error,
      };
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Runs on the host itself, unisolated: only for controls no sandbox can make (see `runOnHost`). */
  async runHost(language: Language, code: string, nonce: string): Promise<RunOutput> {
    const host = await runOnHost(language, code);
    const output = parseProbeOutput(host.stdout);
    const status = host.timedOut ? 'timeout' : host.exitCode === 0 ? 'ok' : 'error';
    return {
      result: undefined,
      output,
      record: {
        where: 'host',
        nonce,
        status,
        exitCode: host.exitCode,
        signal: host.signal,
        durationMs: Math.round(host.durationMs),
        steps: output.steps,
        missingTools: output.missingTools,
        ...(output.unsupported ? { unsupported: output.unsupported } : {}),
        ...(host.exitCode !== 0 ? { stderrTail: tail(host.stderr) } : {}),
      },
    };
  }
}

function toRunOutput(where: RunWhere, nonce: string | undefined, result: ExecutionResult): RunOutput {
  const output = parseProbeOutput(result.stdout);
  return {
    result,
    output,
    record: {
      where,
      ...(nonce ? { nonce } : {}),
      status: result.status,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      steps: output.steps,
      missingTools: output.missingTools,
      ...(output.unsupported ? { unsupported: output.unsupported } : {}),
      ...(result.status !== 'ok' || output.steps.length === 0 ? { stderrTail: tail(result.stderr) } : {}),
    },
  };
}

export function tail(text: string, chars = 300): string {
  const trimmed = text.trim();
  return trimmed.length > chars ? `...${trimmed.slice(-chars)}` : trimmed;
}
