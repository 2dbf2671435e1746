import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionRequest, Executor } from '@cordon/core';
import { EXECUTION_TIMEOUT_MS, describeError } from './backend-candidates.js';
import { DOWNLOAD_BYTES, SMALL_BODY } from './egress-server.js';
import type { Progress } from './progress.js';
import { waitForQuiet, waitForSettled, type QuietOptions } from './quiet.js';
import type { EgressRow, EgressScenarioName, EgressSide } from './results.js';
import { percentile, ratio, round, summarize } from './stats.js';

/** How long a pooled pair waits for its pools to fill before its first sample. */
const WARM_POOLS_MAX_MS = 60_000;

/** The name the allow-list side dials; the resolve override sends it to the local server. */
export const BENCH_HOST = 'api.bench.test';

/** One side of an egress comparison: what to run, and on which executor. */
export interface EgressSubject {
  network: EgressSide['network'];
  pooled: boolean;
  executor: Executor;
  request: ExecutionRequest;
  /** Pause after a sample (a pooled executor refilling). */
  settleMs: number;
  /** The program must reach BENCH_HOST through the broker: a run without an allowed audit record fails. */
  throughBroker: boolean;
  check(stdout: string): EgressCheck;
}

export interface EgressPair {
  scenario: EgressScenarioName;
  backend: 'spawn' | 'docker';
  allowList: EgressSubject;
  baseline: EgressSubject;
}

/** What the program reported about itself, or why the run does not count. */
export type EgressCheck = { ok: true; innerMs: number | null } | { ok: false; problem: string };

/**
 * A node program timing one HTTPS GET itself (TLS certificate not verified: the server's
 * is self-signed for this run) and printing status, bytes and elapsed ms as JSON.
 * `agent: false` so nothing is reused between runs (each run is a fresh sandbox anyway).
 */
export function requestProgram(url: string): string {
  return `
const https = require('https');
const started = performance.now();
const request = https.get(${JSON.stringify(url)}, { rejectUnauthorized: false, agent: false }, (response) => {
  let bytes = 0;
  response.on('data', (chunk) => (bytes += chunk.length));
  response.on('end', () => console.log(JSON.stringify({ status: response.statusCode, bytes, ms: performance.now() - started })));
});
request.on('error', (error) => { console.error(error.message); process.exitCode = 1; });
`.trim();
}

/** Checks the program's JSON line: status 200 and exactly `bytes` bytes received. */
export function requestCheck(bytes: number): (stdout: string) => EgressCheck {
  return (stdout) => {
    let report: { status?: unknown; bytes?: unknown; ms?: unknown };
    try {
      report = JSON.parse(stdout) as typeof report;
    } catch {
      return { ok: false, problem: `unexpected stdout ${JSON.stringify(stdout.slice(0, 120))}` };
    }
    if (report.status !== 200 || report.bytes !== bytes || typeof report.ms !== 'number' || !(report.ms >= 0))
      return { ok: false, problem: `expected status 200 and ${bytes} bytes, got ${JSON.stringify(report)}` };
    return { ok: true, innerMs: report.ms };
  };
}

const helloCheck = (stdout: string): EgressCheck =>
  stdout === '1\n'
    ? { ok: true, innerMs: null }
    : { ok: false, problem: `unexpected stdout ${JSON.stringify(stdout.slice(0, 120))}` };

export interface EgressPlan {
  backend: 'spawn' | 'docker';
  /** The backend with poolSize 0. */
  cold: Executor;
  /** The backend with its warm pools (network 'none', and allow-lists once the first has run). */
  pooled: Executor;
  pooledSettleMs: number;
  /** The local HTTPS server: where it listens (spawn: 127.0.0.1; docker: the bridge's gateway, which the broker on the host's network reaches too). */
  serverHost: string;
  serverPort: number;
}

/** The four comparisons of the egress phase, in the order they are measured. */
export function egressPairs(plan: EgressPlan): EgressPair[] {
  const server = `${plan.serverHost}:${plan.serverPort}`;
  const allow: ExecutionRequest['network'] = {
    mode: 'allow',
    allow: [BENCH_HOST],
    // Test-only override: the name goes to the local server whatever port (443) was asked.
    resolve: { [BENCH_HOST]: server },
  };
  const direct = `https://${server}`;
  const named = `https://${BENCH_HOST}`;
  const node = (code: string, network: ExecutionRequest['network']): ExecutionRequest => ({
    language: 'node',
    code,
    network,
    timeoutMs: EXECUTION_TIMEOUT_MS,
  });
  const side = (
    network: EgressSide['network'],
    executor: Executor,
    request: ExecutionRequest,
    check: EgressSubject['check'],
    pooled = false,
    settleMs = 0,
  ): EgressSubject => ({
    network,
    pooled,
    executor,
    request,
    check,
    settleMs,
    throughBroker: network === 'allow' && check !== helloCheck,
  });
  const small = requestCheck(SMALL_BODY.length);
  const large = requestCheck(DOWNLOAD_BYTES);
  const { backend } = plan;
  return [
    {
      scenario: 'https-request',
      backend,
      allowList: side('allow', plan.cold, node(requestProgram(`${named}/small`), allow), small),
      baseline: side('open', plan.cold, node(requestProgram(`${direct}/small`), 'open'), small),
    },
    {
      scenario: 'download-10mib',
      backend,
      allowList: side('allow', plan.cold, node(requestProgram(`${named}/download`), allow), large),
      baseline: side('open', plan.cold, node(requestProgram(`${direct}/download`), 'open'), large),
    },
    {
      scenario: 'hello-cold',
      backend,
      allowList: side('allow', plan.cold, node('console.log(1)', allow), helloCheck),
      baseline: side('none', plan.cold, node('console.log(1)', 'none'), helloCheck),
    },
    {
      scenario: 'hello-pooled',
      backend,
      // Both from a warm pool: the allow-list pool (made on the first allow-list run) and the 'none' pool.
      allowList: side('allow', plan.pooled, node('console.log(1)', allow), helloCheck, true, plan.pooledSettleMs),
      baseline: side('none', plan.pooled, node('console.log(1)', 'none'), helloCheck, true, plan.pooledSettleMs),
    },
  ];
}

interface Samples {
  /** Distinct audit paths (`captured`, `proxy-connect`, ...) of the allowed connections seen. */
  paths: string[];
  wallMs: number[];
  innerMs: number[];
  failures: number;
  problems: string[];
}

async function sampleOnce(subject: EgressSubject, into: Samples | undefined): Promise<string> {
  const started = performance.now();
  let outcome: EgressCheck;
  try {
    const result = await subject.executor.execute(subject.request);
    const allowed = (result.egress?.records ?? []).filter(
      (record) => record.verdict === 'allowed' && record.path !== 'dns' && record.host === BENCH_HOST,
    );
    for (const record of allowed) if (into && !into.paths.includes(record.path)) into.paths.push(record.path);
    outcome =
      result.status !== 'ok'
        ? {
            ok: false,
            problem: `status ${result.status} (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 200)}`,
          }
        : subject.throughBroker && allowed.length === 0
          ? {
              ok: false,
              problem: `no allowed connection to ${BENCH_HOST} in the audit: the request bypassed the broker`,
            }
          : subject.check(result.stdout);
  } catch (error) {
    outcome = { ok: false, problem: describeError(error) };
  }
  const wallMs = performance.now() - started;
  if (into) {
    if (outcome.ok) {
      into.wallMs.push(wallMs);
      if (outcome.innerMs !== null) into.innerMs.push(outcome.innerMs);
    } else {
      into.failures++;
      if (into.problems.length < 3 && !into.problems.includes(outcome.problem)) into.problems.push(outcome.problem);
    }
  }
  if (subject.settleMs > 0) await sleep(subject.settleMs);
  return outcome.ok ? `${Math.round(wallMs)} ms` : 'FAILED';
}

export interface EgressOptions {
  runs: number;
  warmupRuns: number;
  quiet: QuietOptions;
  progress: Progress;
  onBusy: () => void;
}

/**
 * Each pair interleaved round by round, allow-list first on even rounds and the
 * baseline first on odd ones (ABBA), each sample on a quiet machine; warm-up rounds dropped.
 */
export async function measureEgress(pairs: readonly EgressPair[], options: EgressOptions): Promise<EgressRow[]> {
  const rows: EgressRow[] = [];
  const planned = pairs.length * 2 * (options.warmupRuns + options.runs);
  let done = 0;
  for (const pair of pairs) {
    await warmPools(pair);
    const sets = new Map<EgressSubject, Samples>([
      [pair.allowList, { paths: [], wallMs: [], innerMs: [], failures: 0, problems: [] }],
      [pair.baseline, { paths: [], wallMs: [], innerMs: [], failures: 0, problems: [] }],
    ]);
    for (let round = 0; round < options.warmupRuns + options.runs; round++) {
      const order = round % 2 === 0 ? [pair.allowList, pair.baseline] : [pair.baseline, pair.allowList];
      for (const subject of order) {
        if (!(await waitForQuiet(options.quiet))) options.onBusy();
        const warm = round < options.warmupRuns;
        const label = await sampleOnce(subject, warm ? undefined : sets.get(subject));
        done++;
        options.progress.update(
          done,
          planned,
          `${pair.scenario} ${subject.network} ${label}${warm ? ' (warm-up)' : ''}`,
        );
      }
    }
    rows.push(egressRow(pair, sets.get(pair.allowList) as Samples, sets.get(pair.baseline) as Samples));
  }
  return rows;
}

/**
 * A pooled side's pool is made and filled before its first sample: spawn makes its
 * allow-list pool on the first allow-list run (which is cold), so one unrecorded run
 * each, then the executors' refills, come first.
 */
async function warmPools(pair: EgressPair): Promise<void> {
  const pooled = [pair.allowList, pair.baseline].filter((subject) => subject.pooled);
  for (const subject of pooled) await sampleOnce(subject, undefined);
  await waitForSettled(
    pooled.map((subject) => subject.executor),
    WARM_POOLS_MAX_MS,
  );
}

function describeSide(subject: EgressSubject, samples: Samples, download: boolean): EgressSide {
  const summary = samples.wallMs.length > 0 ? summarize(samples.wallMs) : undefined;
  const innerP50 = samples.innerMs.length > 0 ? percentile(samples.innerMs, 0.5) : undefined;
  const rates = samples.innerMs.filter((value) => value > 0).map((value) => DOWNLOAD_BYTES / 2 ** 20 / (value / 1000));
  return {
    network: subject.network,
    pooled: subject.pooled,
    p50Ms: summary?.p50Ms ?? 0,
    p95Ms: summary?.p95Ms ?? 0,
    innerP50Ms: innerP50 === undefined ? null : round(innerP50),
    mibPerSec: download && rates.length > 0 ? round(percentile(rates, 0.5)) : null,
    egressPaths: samples.paths,
    runs: samples.wallMs.length,
    failures: samples.failures,
    problems: samples.problems,
  };
}

/** The comparison row; ratios are null when a side has no successful run. */
export function egressRow(pair: EgressPair, allowSamples: Samples, baselineSamples: Samples): EgressRow {
  const download = pair.scenario === 'download-10mib';
  const allowList = describeSide(pair.allowList, allowSamples, download);
  const baseline = describeSide(pair.baseline, baselineSamples, download);
  const both = allowList.runs > 0 && baseline.runs > 0;
  return {
    scenario: pair.scenario,
    backend: pair.backend,
    allowList,
    baseline,
    ratio: both ? ratio(allowList.p50Ms, baseline.p50Ms) : null,
    addedMs: both ? round(allowList.p50Ms - baseline.p50Ms) : null,
    innerRatio: ratio(allowList.innerP50Ms ?? undefined, baseline.innerP50Ms ?? undefined),
    throughputRatio: ratio(allowList.mibPerSec ?? undefined, baseline.mibPerSec ?? undefined),
  };
}
