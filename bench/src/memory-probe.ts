// A child process per backend for the host-memory figures, so the RSS measured is
// that of a process driving one executor, not the harness holding every backend.
// Input: one JSON argument (MemoryProbeInput). Output: one JSON line (MemoryRow) on
// stdout; "progress <done> <total>" lines on stderr.
import { setTimeout as sleep } from 'node:timers/promises';
import { executeOnce, loadBenchBackend } from './backend-candidates.js';
import { closeWithin } from './deadline.js';
import { waitForQuiet, waitForSettled } from './quiet.js';
import type { MemoryRow } from './results.js';
import { scenario } from './scenarios.js';
import { percentile, round } from './stats.js';

export interface MemoryProbeInput {
  backend: string;
  options: Record<string, unknown>;
  poolSize: number;
  executions: number;
  concurrency: number;
  /** How long to wait for the pool to fill (the machine going quiet) at most. */
  fillTimeoutMs: number;
  quietThreshold: number;
}

const MiB = 1024 * 1024;

function settledRss(): { rss: number; heapUsed: number } {
  // --expose-gc: collect first so the figure is what is retained, not garbage not yet swept.
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss / MiB, heapUsed: usage.heapUsed / MiB };
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as MemoryProbeInput;
  const node = scenario('node-hello');
  const rssBefore = settledRss().rss;
  const backend = await loadBenchBackend(input.backend);
  const executor = await backend.create(input.options);
  // Ctrl-C reaches this process too, and the harness sends SIGTERM: remove the pool before going.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void executor.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    // Filling the pool is background work: done once the executor has settled and the machine is quiet again.
    await sleep(Math.min(1_000, input.fillTimeoutMs));
    await waitForSettled([executor], input.fillTimeoutMs);
    await waitForQuiet({ threshold: input.quietThreshold, windowMs: 200, maxWaitMs: input.fillTimeoutMs });
    const rssWarmPool = settledRss().rss;

    const early = Math.max(1, Math.floor(input.executions / 10));
    let rssEarly = rssWarmPool;
    let next = 0;
    let done = 0;
    let failures = 0;
    let firstProblem: string | undefined;
    const samplesMs: number[] = [];
    const started = performance.now();
    const worker = async () => {
      while (next < input.executions) {
        next++;
        const sample = await executeOnce(executor, node);
        // A hung execution means a broken executor: stop, and let the parent report it.
        if (sample.hung) throw new Error(sample.problem);
        if (sample.ok) samplesMs.push(sample.ms);
        else {
          failures++;
          firstProblem ??= sample.problem;
        }
        done++;
        if (done === early) rssEarly = settledRss().rss;
        if (done % 10 === 0 || done === input.executions)
          process.stderr.write(`progress ${done} ${input.executions}\n`);
      }
    };
    await Promise.all(Array.from({ length: input.concurrency }, worker));
    const wallMs = performance.now() - started;
    const after = settledRss();
    const row: MemoryRow = {
      backend: input.backend,
      poolSize: input.poolSize,
      rssBeforeMiB: round(rssBefore),
      rssWarmPoolMiB: round(rssWarmPool),
      rssEarlyMiB: round(rssEarly),
      rssAfterMiB: round(after.rss),
      heapUsedAfterMiB: round(after.heapUsed),
      growthMiB: round(after.rss - rssEarly),
      executions: input.executions,
      failures,
      concurrency: input.concurrency,
      throughputPerSec: round((input.executions - failures) / (wallMs / 1000), 2),
      p50Ms: samplesMs.length > 0 ? round(percentile(samplesMs, 0.5)) : 0,
      p95Ms: samplesMs.length > 0 ? round(percentile(samplesMs, 0.95)) : 0,
    };
    if (firstProblem) process.stderr.write(`problem ${firstProblem}\n`);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  } finally {
    const problem = await closeWithin(executor, 60_000);
    if (problem) process.stderr.write(`problem ${problem}\n`);
  }
}

// Exit explicitly: a handle a backend forgot to release must not keep the parent waiting.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(`problem ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
