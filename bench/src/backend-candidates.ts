import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  backendOptionsFromEnv,
  InvalidRequestError,
  loadBackend,
  packageNameFor,
  type BackendAvailability,
  type CordonBackend,
  type Executor,
} from '@cordon/core';
import type { Mode, Skipped } from './results.js';
import { MISSED, withDeadline } from './deadline.js';
import { checkOutput, type Participant, type Sample } from './sample.js';
import type { Scenario } from './scenarios.js';

export const BENCH_BACKENDS = ['spawn', 'docker', 'k8s'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number];

/** How each backend is driven; everything else goes through its public `create(options)`. */
interface BackendPlan {
  /** Pause after a pooled sample before the next starts, on top of waiting for a quiet machine. */
  pooledSettleMs: number;
  /** Slow backends take a latency sample only every N-th round, and fewer throughput runs. */
  sampleEvery: number;
  /** Pool size of the `pooled` mode when not the harness-wide one. */
  poolSize?: number;
  /** Extra options, e.g. the image the Docker baselines use, so both compare the same image. */
  options(context: PlanContext): Record<string, unknown>;
  /** What to add to a failed availability check's message when the usual cause is plain. */
  hint?(): string | undefined;
}

export interface PlanContext {
  image: string;
  /** Pool size of the `pooled` mode. */
  poolSize: number;
  maxConcurrency: number;
}

const PLANS: Record<BenchBackend, BackendPlan> = {
  spawn: { pooledSettleMs: 100, sampleEvery: 1, options: () => ({}) },
  docker: { pooledSettleMs: 300, sampleEvery: 1, options: (context) => ({ image: context.image }) },
  // Pods schedule in seconds; keep the run within its time budget.
  k8s: {
    // A warm pod is replaced through the scheduler and kubelet, whose loops leave the CPU idle in between.
    pooledSettleMs: 2_500,
    sampleEvery: 3,
    // Its own default: eight pods at once would crowd a 2-core test node.
    poolSize: 2,
    options: () => ({}),
    hint: () =>
      process.env.KUBECONFIG || process.env.CORDON_K8S_KUBECONFIG
        ? undefined
        : 'KUBECONFIG is not set; for the test cluster, bash cluster/up.sh prints the kubeconfig to use',
  },
};

export interface PreparedBackend {
  backend: BenchBackend;
  candidates: BackendCandidate[];
  skipped: Skipped[];
}

export interface BackendCandidate extends Participant {
  readonly backend: BenchBackend;
  readonly mode: Mode;
  readonly executor: Executor;
  /** The options it was created with (the memory phase re-creates it in a child process). */
  readonly options: Record<string, unknown>;
}

/**
 * Loads a backend through the public API, checks its availability, and creates a cold executor
 * (pool size 0, or no pool at all) and, when the backend has a pool, a pooled one.
 * Anything missing becomes a plain "skipped" line, never a crash.
 */
export async function prepareBackend(
  name: BenchBackend,
  context: PlanContext,
  quick: boolean,
): Promise<PreparedBackend> {
  const plan = PLANS[name];
  const skipped: Skipped[] = [];
  let backend: CordonBackend;
  try {
    backend = await loadBenchBackend(name);
  } catch (error) {
    return {
      backend: name,
      candidates: [],
      skipped: [{ backend: name, reason: notBuiltReason(name) ?? describeError(error) }],
    };
  }
  const base = { ...backendOptionsFromEnv(name), ...plan.options(context), maxConcurrency: context.maxConcurrency };
  let availability: BackendAvailability;
  try {
    const outcome = await withDeadline(backend.availability(base), SETUP_DEADLINE_MS);
    availability =
      outcome === MISSED
        ? { usable: false, detail: `availability() did not return within ${SETUP_DEADLINE_MS / 1000} s` }
        : outcome;
  } catch (error) {
    // availability() must not throw; if it does, the backend is not usable here either.
    availability = { usable: false, detail: `availability() failed: ${describeError(error)}` };
  }
  if (!availability.usable) {
    const hint = plan.hint?.();
    return {
      backend: name,
      candidates: [],
      skipped: [
        {
          backend: name,
          reason: `${availability.detail}${availability.remedy ? ` (${availability.remedy})` : ''}${hint ? ` [${hint}]` : ''}`,
        },
      ],
    };
  }

  const candidates: BackendCandidate[] = [];
  let coldOptions: Record<string, unknown> = { ...base, poolSize: 0 };
  let hasPool = true;
  let cold: Executor | undefined;
  try {
    cold = await createWithin(backend, coldOptions);
  } catch (error) {
    if (error instanceof InvalidRequestError && error.field === 'options.poolSize') {
      // No pool option: every execution is cold already.
      hasPool = false;
      coldOptions = base;
      try {
        cold = await createWithin(backend, coldOptions);
      } catch (retryError) {
        skipped.push({ backend: name, mode: 'cold', reason: describeError(retryError) });
      }
    } else {
      skipped.push({ backend: name, mode: 'cold', reason: describeError(error) });
    }
  }
  if (cold) candidates.push(candidate(name, 'cold', cold, coldOptions, 0, plan.sampleEvery));

  if (!hasPool) {
    skipped.push({
      backend: name,
      mode: 'pooled',
      reason: 'the backend has no poolSize option (every execution is cold)',
    });
  } else {
    const pooledOptions = { ...base, poolSize: plan.poolSize ?? context.poolSize };
    try {
      const pooled = await createWithin(backend, pooledOptions);
      candidates.push(
        candidate(name, 'pooled', pooled, pooledOptions, quick ? 50 : plan.pooledSettleMs, plan.sampleEvery),
      );
    } catch (error) {
      skipped.push({ backend: name, mode: 'pooled', reason: describeError(error) });
    }
  }
  return { backend: name, candidates, skipped };
}

/**
 * `loadBackend` by the entry file of the package linked into bench/, so the
 * harness finds its backends whatever the working directory (loadBackend resolves
 * package names from the current directory's project first).
 */
export function loadBenchBackend(name: string): Promise<CordonBackend> {
  let entry: string | undefined;
  try {
    entry = createRequire(import.meta.url).resolve(packageNameFor(name));
  } catch {
    entry = undefined;
  }
  return loadBackend(entry ?? name);
}

/** availability() and create() (which may verify isolation, e.g. k8s's canary pods) get this long. */
const SETUP_DEADLINE_MS = 180_000;

async function createWithin(backend: CordonBackend, options: Record<string, unknown>): Promise<Executor> {
  const outcome = await withDeadline(backend.create(options), SETUP_DEADLINE_MS);
  if (outcome === MISSED) throw new Error(`create() did not return within ${SETUP_DEADLINE_MS / 1000} s`);
  return outcome;
}

/** In this workspace a backend package is always linked; what is missing is its build. */
function notBuiltReason(name: BenchBackend): string | undefined {
  const packageName = packageNameFor(name);
  try {
    const manifest = createRequire(import.meta.url).resolve(`${packageName}/package.json`);
    if (!existsSync(join(dirname(manifest), 'dist')))
      return `package ${packageName} is not built (run pnpm build, or node scripts/setup.mjs)`;
  } catch {
    // Not linked at all: loadBackend's own message says what to install.
  }
  return undefined;
}

function candidate(
  backend: BenchBackend,
  mode: Mode,
  executor: Executor,
  options: Record<string, unknown>,
  settleMs: number,
  sampleEvery: number,
): BackendCandidate {
  const entry: BackendCandidate & { broken?: string } = {
    key: `${backend}/${mode}`,
    role: 'candidate',
    backend,
    mode,
    executor,
    options,
    settleMs,
    sampleEvery,
    supports: (scenario) => executor.capabilities().languages.includes(scenario.language),
    runOnce: async (scenario) => {
      const sample = await executeOnce(executor, scenario);
      // An execution that never returned leaves the executor in an unknown state: stop measuring it.
      if (sample.hung) entry.broken = sample.problem;
      return sample;
    },
  };
  return entry;
}

/** Wall-clock limit of every benchmark execution; nothing here should come near it. */
export const EXECUTION_TIMEOUT_MS = 60_000;
/** How long past its own timeout an `execute()` may take to return before it counts as hung. */
const HANG_GRACE_MS = 30_000;

/** One `execute` timed from the call to the resolved result, as an SDK user sees it. */
export async function executeOnce(
  executor: Pick<Executor, 'execute'>,
  scenario: Scenario,
  limits = { timeoutMs: EXECUTION_TIMEOUT_MS, graceMs: HANG_GRACE_MS },
): Promise<Sample & { hung?: boolean }> {
  const started = performance.now();
  try {
    const result = await withDeadline(
      executor.execute({ language: scenario.language, code: scenario.code, timeoutMs: limits.timeoutMs }),
      limits.timeoutMs + limits.graceMs,
    );
    const ms = performance.now() - started;
    if (result === MISSED) {
      return {
        ms,
        ok: false,
        hung: true,
        problem: `execute() did not return ${limits.graceMs / 1000} s after its ${limits.timeoutMs / 1000} s timeout (a backend bug)`,
      };
    }
    const problem =
      result.status === 'ok'
        ? checkOutput(scenario, result.stdout, result.stderr.trim())
        : `status ${result.status} (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 200)}`;
    return problem === undefined ? { ms, ok: true } : { ms, ok: false, problem };
  } catch (error) {
    return { ms: performance.now() - started, ok: false, problem: describeError(error) };
  }
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
