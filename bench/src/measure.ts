import { setTimeout as sleep } from 'node:timers/promises';
import type { Progress } from './progress.js';
import { waitForQuiet, type QuietOptions } from './quiet.js';
import type { Participant, Sample } from './sample.js';
import type { Scenario } from './scenarios.js';

export interface SampleSet {
  samplesMs: number[];
  failures: number;
  /** The first few distinct problems, for the report. */
  problems: string[];
}

export interface LatencyOptions {
  runs: number;
  warmupRuns: number;
  quiet: QuietOptions;
  progress: Progress;
  /** Counts samples that started before the machine became quiet. */
  onBusy: () => void;
}

/**
 * Spaced latency of every participant for one scenario, interleaved: each round
 * takes one sample of each, in forward order on even rounds and reverse order on
 * odd ones (ABBA), so drift over the run hits baselines and candidates alike.
 * Every sample starts on a quiet machine; the first `warmupRuns` rounds are dropped.
 */
export async function measureLatency(
  participants: readonly Participant[],
  scenario: Scenario,
  options: LatencyOptions,
): Promise<Map<string, SampleSet>> {
  const sets = new Map<string, SampleSet>(participants.map((participant) => [participant.key, emptySet()]));
  const rounds = options.warmupRuns + options.runs;
  const planned = participants.reduce(
    (sum, participant) => sum + sampledRounds(participant, options.warmupRuns, rounds),
    0,
  );
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? participants : [...participants].reverse();
    for (const participant of order) {
      if (participant.broken !== undefined) continue;
      if (round >= options.warmupRuns && (round - options.warmupRuns) % participant.sampleEvery !== 0) continue;
      if (round < options.warmupRuns && round > 0 && participant.sampleEvery > 1) continue;
      if (!(await waitForQuiet(options.quiet))) options.onBusy();
      const sample = await participant.runOnce(scenario);
      done++;
      options.progress.update(
        done,
        planned,
        `${participant.key} ${sample.ok ? `${Math.round(sample.ms)} ms` : 'FAILED'}${round < options.warmupRuns ? ' (warm-up)' : ''}`,
      );
      if (round >= options.warmupRuns) record(sets.get(participant.key) as SampleSet, sample);
      if (participant.settleMs > 0) await sleep(participant.settleMs);
    }
  }
  return sets;
}

/** Samples a participant takes over `rounds` rounds, warm-up included (for the progress bar). */
function sampledRounds(participant: Participant, warmupRuns: number, rounds: number): number {
  const warmups = participant.sampleEvery > 1 ? Math.min(1, warmupRuns) : warmupRuns;
  return warmups + Math.ceil((rounds - warmupRuns) / participant.sampleEvery);
}

export interface ThroughputSet extends SampleSet {
  wallMs: number;
  throughputPerSec: number;
}

/**
 * Back-to-back executions, `concurrency` in flight until `count` are done: the
 * executions per second a caller gets, pools refilling as they can.
 */
export async function measureThroughput(
  participant: Participant,
  scenario: Scenario,
  concurrency: number,
  count: number,
  progress: Progress,
): Promise<ThroughputSet> {
  const set = emptySet();
  let next = 0;
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count && participant.broken === undefined) {
      next++;
      const sample = await participant.runOnce(scenario);
      record(set, sample);
      done++;
      progress.update(done, count, `${participant.key} ×${concurrency}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const wallMs = performance.now() - started;
  return { ...set, wallMs, throughputPerSec: set.samplesMs.length / (wallMs / 1000) };
}

function emptySet(): SampleSet {
  return { samplesMs: [], failures: 0, problems: [] };
}

function record(set: SampleSet, sample: Sample): void {
  if (sample.ok) {
    set.samplesMs.push(sample.ms);
    return;
  }
  set.failures++;
  if (sample.problem && set.problems.length < 3 && !set.problems.includes(sample.problem))
    set.problems.push(sample.problem);
}
