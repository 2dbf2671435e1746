import Docker from 'dockerode';
import { describeError, prepareBackend, type BackendCandidate } from './backend-candidates.js';
import { closeWithin } from './deadline.js';
import {
  describeDockerRun,
  describeOriginalApi,
  detectDocker,
  dockerServerVersion,
  dockerRunBaseline,
  originalApiBaseline,
  removeBaselineContainers,
} from './docker-baselines.js';
import {
  bwrapNodeReference,
  describePerlLauncherNode,
  perlLauncherNodeReference,
  describeBwrapNode,
  describeHostBaseline,
  detectBwrap,
  HOST_BASELINES,
  hostBaseline,
} from './host-baselines.js';
import { egressPairs, measureEgress } from './egress-scenarios.js';
import { startEgressServer } from './egress-server.js';
import { describeMachine } from './machine.js';
import { measureLatency, measureThroughput, type SampleSet, type ThroughputSet } from './measure.js';
import { measureMemory } from './memory.js';
import type { Progress } from './progress.js';
import { busyFraction, waitForQuiet, waitForSettled, type QuietOptions } from './quiet.js';
import {
  resultsFileSchema,
  type BaselineName,
  type BaselineRow,
  type EgressRow,
  type MeasuredBaseline,
  type Kind,
  type MemoryRow,
  type ResultRow,
  type ResultsFile,
  type ScenarioName,
  type Skipped,
} from './results.js';
import type { Participant } from './sample.js';
import { scenario, SCENARIO_LIST, type Scenario } from './scenarios.js';
import type { BenchSettings } from './settings.js';
import { ratio, round, summarize } from './stats.js';
import { evaluateTargets } from './targets.js';

/** setup, one latency phase per scenario, egress, throughput, memory, report. */
export const PHASE_COUNT = 5 + SCENARIO_LIST.length;

/** How long `close()` may take (it aborts what runs and removes pools) before the run goes on without it. */
export const CLOSE_DEADLINE_MS = 60_000;

/** Everything the run made that must go away, even on Ctrl-C. */
export interface Cleanup {
  executors: BackendCandidate[];
  docker: Docker | undefined;
}

interface Measured {
  participant: Participant;
  scenario: ScenarioName;
  kind: Kind;
  concurrency: number;
  set: SampleSet | ThroughputSet;
}

/** The whole benchmark: setup, latency per scenario, throughput, memory, then the results file. */
export async function runBench(settings: BenchSettings, progress: Progress, cleanup: Cleanup): Promise<ResultsFile> {
  const started = performance.now();
  const skipped: Skipped[] = [];
  const skip = (entry: Skipped) => {
    skipped.push(entry);
    progress.note(`skipped: ${entry.backend}${entry.mode ? ` ${entry.mode}` : ''}: ${entry.reason}`);
  };
  let busySamples = 0;

  progress.phase('setup: baselines, backends, pools');
  // What "quiet" means here: a little above the machine's own idle load, measured before anything starts.
  const idle = (await busyFraction(500)) ?? 0;
  const quiet: QuietOptions = {
    threshold: Math.max(0.2, idle + 0.1),
    windowMs: 100,
    maxWaitMs: settings.quietMaxWaitMs,
  };

  const baselines: Participant[] = HOST_BASELINES.map(hostBaseline);
  const commands = new Map<MeasuredBaseline, string>();
  for (const name of HOST_BASELINES)
    commands.set(
      name,
      describeHostBaseline(
        name,
        SCENARIO_LIST.find((candidate) => candidate.hostBaseline === name) ?? scenario('node-hello'),
      ),
    );
  if (settings.backends.includes('spawn')) {
    const bwrap = await detectBwrap();
    if (bwrap.ok) {
      baselines.push(bwrapNodeReference());
      commands.set('bwrap-node', describeBwrapNode());
    } else {
      skip({ backend: 'bwrap-node (reference)', reason: bwrap.reason });
    }
    const perl = await perlLauncherNodeReference();
    if ('reason' in perl) skip({ backend: 'perl-launcher-node (reference)', reason: perl.reason });
    else {
      baselines.push(perl);
      commands.set('perl-launcher-node', describePerlLauncherNode());
    }
  }
  let dockerVersion: string | null = null;
  if (settings.backends.includes('docker') || settings.backends.includes('k8s')) {
    const docker = await detectDocker(settings.image);
    dockerVersion = docker.serverVersion;
    if (docker.ok) {
      const client = new Docker();
      cleanup.docker = client;
      baselines.push(dockerRunBaseline(settings.image), originalApiBaseline(client, settings.image));
      commands.set('docker-run', describeDockerRun(settings.image));
      commands.set('original-api', describeOriginalApi(settings.image));
    } else {
      skip({ backend: 'docker-run, original-api (baselines)', reason: docker.reason });
    }
  }
  const machine = describeMachine(dockerVersion ?? (await dockerServerVersion()));
  if (!settings.quick && machine.loadAverage[0] > machine.cpus * 0.5) {
    progress.note(
      `warning: load average ${machine.loadAverage[0]} on ${machine.cpus} cores; other work skews the ratios, run the benchmark alone`,
    );
  }

  const candidates: BackendCandidate[] = [];
  for (const name of settings.backends) {
    progress.update(0, 1, `creating ${name} executors`);
    const prepared = await prepareBackend(
      name,
      { image: settings.image, poolSize: settings.poolSize, maxConcurrency: 8 },
      settings.quick,
    );
    prepared.skipped.forEach(skip);
    candidates.push(...prepared.candidates);
    cleanup.executors.push(...prepared.candidates);
  }
  // Pools fill in the background; start measuring once they are done.
  await waitForSettled(
    candidates.map((candidate) => candidate.executor),
    settings.quick ? 1_000 : 30_000,
  );
  if (!(await waitForQuiet({ ...quiet, windowMs: 250, maxWaitMs: settings.quick ? 1_000 : 30_000 }))) busySamples++;

  const measured: Measured[] = [];
  const onBusy = () => busySamples++;
  // A candidate whose every run of a phase failed is dropped for the rest of the run, once, with the reason.
  const broken = new Set<string>();
  const working = () => candidates.filter((candidate) => !broken.has(candidate.key));
  const dropIfBroken = (candidate: BackendCandidate, set: SampleSet, what: string) => {
    if (broken.has(candidate.key)) return;
    if (candidate.broken !== undefined) {
      broken.add(candidate.key);
      skip({
        backend: candidate.backend,
        mode: candidate.mode,
        reason: `dropped from the rest of the run during ${what}: ${candidate.broken}`,
      });
      return;
    }
    if (set.samplesMs.length > 0 || set.failures === 0) return;
    broken.add(candidate.key);
    skip({
      backend: candidate.backend,
      mode: candidate.mode,
      reason: `every run of ${what} failed, dropped from the rest of the run: ${set.problems[0] ?? 'no detail'}`,
    });
  };

  for (const current of SCENARIO_LIST) {
    progress.phase(`latency: ${current.name}`);
    const participants = [...baselines, ...working()].filter((participant) => participant.supports(current));
    // console.log(1) carries the targets; the other scenarios take half the runs to keep a full run near 10 minutes.
    const runs = current.name === 'node-hello' ? settings.runs : Math.max(1, Math.ceil(settings.runs / 2));
    const sets = await measureLatency(participants, current, {
      runs,
      warmupRuns: settings.warmupRuns,
      quiet,
      progress,
      onBusy,
    });
    for (const participant of participants) {
      const set = sets.get(participant.key) as SampleSet;
      measured.push({ participant, scenario: current.name, kind: 'latency', concurrency: 1, set });
      if (participant.role === 'candidate')
        dropIfBroken(participant as BackendCandidate, set, `${current.name} latency`);
    }
  }

  const egress: EgressRow[] = [];
  for (const backend of ['spawn', 'docker'] as const) {
    if (!settings.backends.includes(backend)) continue;
    progress.phase(`egress: allow-list vs open / none on ${backend}, interleaved`);
    const outcome = await runEgressPhase(backend, working(), settings, quiet, progress, () => busySamples++);
    if (!Array.isArray(outcome)) {
      skip({ backend, reason: `egress scenarios: ${outcome.reason}` });
      continue;
    }
    egress.push(...outcome);
    for (const row of outcome)
      for (const side of [row.allowList, row.baseline])
        if (side.failures > 0)
          skip({
            backend,
            reason: `egress ${row.scenario} network ${side.network}: ${side.failures} of ${side.failures + side.runs} runs failed (excluded): ${side.problems.join(' | ')}`,
          });
  }

  progress.phase('throughput: console.log(1), back to back, pools refilling');
  const hostNode = baselines.find((participant) => participant.key === 'host-node');
  const node = scenario('node-hello');
  for (const [concurrency, count] of settings.throughputCounts) {
    for (const participant of [hostNode, ...working()]) {
      if (!participant) continue;
      // Each level starts with full pools and a quiet machine.
      if (participant.role === 'candidate')
        await waitForSettled([(participant as BackendCandidate).executor], settings.quick ? 500 : 10_000);
      if (!(await waitForQuiet({ ...quiet, maxWaitMs: settings.quick ? 500 : 10_000 }))) busySamples++;
      const scaled = Math.max(concurrency, Math.ceil(count / participant.sampleEvery));
      const set = await measureThroughput(participant, node, concurrency, scaled, progress);
      measured.push({ participant, scenario: 'node-hello', kind: 'throughput', concurrency, set });
      if (participant.role === 'candidate')
        dropIfBroken(participant as BackendCandidate, set, `node-hello throughput ×${concurrency}`);
    }
  }

  // The memory phase runs each backend in a process of its own: close ours first so they do not compete.
  const closeProblems = await Promise.all(
    candidates.map((candidate) => closeWithin(candidate.executor, CLOSE_DEADLINE_MS)),
  );
  for (const [index, problem] of closeProblems.entries()) {
    const candidate = candidates[index];
    if (problem && candidate) skip({ backend: candidate.backend, mode: candidate.mode, reason: problem });
  }
  cleanup.executors.length = 0;

  progress.phase(
    `memory: RSS with a warm pool of ${settings.poolSize}, then after ${settings.memoryExecutions} executions`,
  );
  const memory: MemoryRow[] = [];
  for (const candidate of working()) {
    // k8s is left out: its warm pods live in the cluster, and 1 000 pods would not fit the run's time.
    if (candidate.mode !== 'pooled' || candidate.backend === 'k8s') continue;
    const outcome = await measureMemory(
      {
        backend: candidate.backend,
        options: { ...candidate.options, poolSize: settings.poolSize },
        poolSize: settings.poolSize,
        executions: settings.memoryExecutions,
        concurrency: 8,
        fillTimeoutMs: settings.quick ? 2_000 : 30_000,
        quietThreshold: quiet.threshold,
      },
      progress,
    );
    if (outcome.ok) memory.push(outcome.row);
    else skip({ backend: candidate.backend, mode: 'pooled', reason: `memory phase failed: ${outcome.reason}` });
  }

  progress.phase('report');
  if (cleanup.docker) await removeBaselineContainers(cleanup.docker).catch(() => 0);
  const baselineRows = toBaselineRows(measured, commands);
  const results = toResultRows(measured, baselineRows, memory, skip);
  const file: ResultsFile = {
    machine,
    settings: {
      quick: settings.quick,
      runs: settings.runs,
      warmupRuns: settings.warmupRuns,
      memoryExecutions: settings.memoryExecutions,
      only: settings.only,
      busySamples,
      busyBeforeStart: round(idle, 3),
      quietThreshold: round(quiet.threshold, 3),
      durationSec: round((performance.now() - started) / 1000),
    },
    results,
    baselines: baselineRows,
    memory,
    egress,
    targets: evaluateTargets(results, skipped, memory),
    skipped,
  };
  return resultsFileSchema.parse(file);
}

/**
 * The egress phase on a backend's cold and pooled executors, against an
 * HTTPS server started for it: on loopback for spawn, on the bridge's gateway for
 * docker (its open side runs on the bridge; its broker, on the host's network, reaches
 * that address too).
 */
async function runEgressPhase(
  backend: 'spawn' | 'docker',
  candidates: readonly BackendCandidate[],
  settings: BenchSettings,
  quiet: QuietOptions,
  progress: Progress,
  onBusy: () => void,
): Promise<EgressRow[] | { reason: string }> {
  const cold = candidates.find((candidate) => candidate.key === `${backend}/cold`);
  const pooled = candidates.find((candidate) => candidate.key === `${backend}/pooled`);
  if (!cold || !pooled)
    return { reason: `needs both ${backend} executors (cold and pooled), and one is missing or dropped` };
  if (!cold.executor.capabilities().egress)
    return { reason: `this ${backend} executor does not enforce allow-lists (capabilities().egress is unset)` };
  const host = backend === 'docker' ? await dockerBridgeGateway().catch(() => undefined) : '127.0.0.1';
  if (!host) return { reason: "no IPv4 gateway on Docker's default bridge for the open side to reach" };
  let server;
  try {
    server = await startEgressServer({ host });
  } catch (error) {
    return { reason: `could not start the HTTPS server on ${host}: ${describeError(error)}` };
  }
  try {
    const pairs = egressPairs({
      backend,
      cold: cold.executor,
      pooled: pooled.executor,
      pooledSettleMs: pooled.settleMs,
      serverHost: host,
      serverPort: server.port,
    });
    return await measureEgress(pairs, {
      runs: Math.max(1, Math.ceil(settings.runs / 2)),
      warmupRuns: settings.warmupRuns,
      quiet,
      progress,
      onBusy,
    });
  } finally {
    await server.close();
  }
}

/**
 * The default bridge's gateway (docker0's address on this host), which containers on
 * it reach. From the daemon: while no container is attached docker0 is down, and Node
 * lists no address for it.
 */
async function dockerBridgeGateway(): Promise<string | undefined> {
  const network = (await new Docker().getNetwork('bridge').inspect()) as {
    IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
  };
  const config = network.IPAM?.Config?.find((entry) => entry.Subnet && !entry.Subnet.includes(':'));
  if (config?.Gateway) return config.Gateway;
  const octets = config?.Subnet?.split('/')[0]?.split('.').map(Number);
  return octets?.length === 4 ? [octets[0], octets[1], octets[2], (octets[3] ?? 0) + 1].join('.') : undefined;
}

function throughputOf(set: SampleSet | ThroughputSet): number | null {
  return 'throughputPerSec' in set ? round(set.throughputPerSec, 2) : null;
}

function toBaselineRows(measured: readonly Measured[], commands: ReadonlyMap<MeasuredBaseline, string>): BaselineRow[] {
  const rows: BaselineRow[] = [];
  for (const entry of measured) {
    if (entry.participant.role !== 'baseline' || entry.set.samplesMs.length === 0) continue;
    const summary = summarize(entry.set.samplesMs);
    const baseline = entry.participant.key as MeasuredBaseline;
    rows.push({
      baseline,
      scenario: entry.scenario,
      concurrency: entry.concurrency,
      kind: entry.kind,
      p50Ms: summary.p50Ms,
      p95Ms: summary.p95Ms,
      throughputPerSec: throughputOf(entry.set),
      runs: summary.runs,
      failures: entry.set.failures,
      command: commands.get(baseline) ?? baseline,
    });
  }
  return rows;
}

/**
 * The baseline a backend's figure divides by: bare host interpreters for spawn and
 * pooled runs; `docker run` for cold container and pod runs of node-hello, where
 * it is the fair comparison; host-node at the same concurrency for throughput.
 */
function primaryBaseline(
  candidate: BackendCandidate,
  current: Scenario,
  kind: Kind,
  available: ReadonlySet<MeasuredBaseline>,
): BaselineName {
  if (kind !== 'latency') return 'host-node';
  if (
    current.name === 'node-hello' &&
    candidate.mode === 'cold' &&
    candidate.backend !== 'spawn' &&
    available.has('docker-run')
  )
    return 'docker-run';
  return current.hostBaseline;
}

function toResultRows(
  measured: readonly Measured[],
  baselines: readonly BaselineRow[],
  memory: readonly MemoryRow[],
  skip: (entry: Skipped) => void,
): ResultRow[] {
  const rows: ResultRow[] = [];
  const baselineP50 = (name: MeasuredBaseline, scenarioName: ScenarioName, kind: Kind, concurrency: number) =>
    baselines.find(
      (row) =>
        row.baseline === name && row.scenario === scenarioName && row.kind === kind && row.concurrency === concurrency,
    )?.p50Ms;

  for (const entry of measured) {
    if (entry.participant.role !== 'candidate') continue;
    const candidate = entry.participant as BackendCandidate;
    const { set } = entry;
    // All runs failed: already reported when the candidate was dropped.
    if (set.samplesMs.length === 0) continue;
    if (set.failures > 0)
      skip({
        backend: candidate.backend,
        mode: candidate.mode,
        reason: `${entry.scenario} ${entry.kind} ×${entry.concurrency}: ${set.failures} of ${set.failures + set.samplesMs.length} runs failed (excluded): ${set.problems.join(' | ')}`,
      });
    const summary = summarize(set.samplesMs);
    const current = scenario(entry.scenario);
    const available = new Set(
      baselines
        .filter(
          (row) => row.scenario === entry.scenario && row.kind === entry.kind && row.concurrency === entry.concurrency,
        )
        .map((row) => row.baseline),
    );
    const baseline = primaryBaseline(candidate, current, entry.kind, available);
    const ratios: Partial<Record<MeasuredBaseline, number>> = {};
    for (const name of available) {
      const value = ratio(summary.p50Ms, baselineP50(name, entry.scenario, entry.kind, entry.concurrency));
      if (value !== null) ratios[name] = value;
    }
    rows.push({
      backend: candidate.backend,
      mode: candidate.mode,
      scenario: entry.scenario,
      concurrency: entry.concurrency,
      p50Ms: summary.p50Ms,
      p95Ms: summary.p95Ms,
      throughputPerSec: throughputOf(set),
      baseline,
      ratio: ratio(summary.p50Ms, baselineP50(baseline, entry.scenario, entry.kind, entry.concurrency)),
      kind: entry.kind,
      runs: summary.runs,
      failures: set.failures,
      ratios,
    });
  }

  // The long run of the memory phase doubles as sustained pooled throughput.
  for (const row of memory) {
    const baseline = baselineP50('host-node', 'node-hello', 'throughput', row.concurrency);
    rows.push({
      backend: row.backend,
      mode: 'pooled',
      scenario: 'node-hello',
      concurrency: row.concurrency,
      p50Ms: row.p50Ms,
      p95Ms: row.p95Ms,
      throughputPerSec: row.throughputPerSec,
      baseline: 'host-node',
      ratio: ratio(row.p50Ms, baseline),
      kind: 'sustained',
      runs: row.executions - row.failures,
      failures: row.failures,
    });
  }
  return rows;
}
