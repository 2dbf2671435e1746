import { describe, expect, it } from 'vitest';
import { renderChart } from '../src/chart.js';
import { renderMarkdownResults } from '../src/markdown-report.js';
import { renderReport } from '../src/report-table.js';
import { resultsFileSchema, type EgressSide, type ResultsFile } from '../src/results.js';
import { requirementProblems } from '../src/requirements.js';
import { evaluateTargets } from '../src/targets.js';

function sampleFile(): ResultsFile {
  const results: ResultsFile['results'] = [
    {
      backend: 'spawn',
      mode: 'cold',
      scenario: 'node-hello',
      concurrency: 1,
      p50Ms: 150,
      p95Ms: 170,
      throughputPerSec: null,
      baseline: 'host-node',
      ratio: 1.071,
      kind: 'latency',
      runs: 30,
      failures: 0,
      ratios: { 'host-node': 1.071 },
    },
    {
      backend: 'docker',
      mode: 'pooled',
      scenario: 'node-hello',
      concurrency: 1,
      p50Ms: 84,
      p95Ms: 95,
      throughputPerSec: null,
      baseline: 'host-node',
      ratio: 0.6,
      kind: 'latency',
      runs: 30,
      failures: 0,
      ratios: { 'host-node': 0.6, 'docker-run': 0.1 },
    },
    {
      backend: 'docker',
      mode: 'cold',
      scenario: 'node-hello',
      concurrency: 1,
      p50Ms: 500,
      p95Ms: 600,
      throughputPerSec: null,
      baseline: 'docker-run',
      ratio: 0.595,
      kind: 'latency',
      runs: 30,
      failures: 0,
      ratios: { 'host-node': 3.571, 'docker-run': 0.595 },
    },
    {
      backend: 'docker',
      mode: 'pooled',
      scenario: 'node-hello',
      concurrency: 8,
      p50Ms: 300,
      p95Ms: 500,
      throughputPerSec: 20.5,
      baseline: 'host-node',
      ratio: 0.5,
      kind: 'throughput',
      runs: 48,
      failures: 0,
    },
  ];
  const skipped: ResultsFile['skipped'] = [{ backend: 'k8s', reason: 'no cluster (set KUBECONFIG)' }];
  const memory: ResultsFile['memory'] = [
    {
      backend: 'docker',
      poolSize: 8,
      rssBeforeMiB: 60,
      rssWarmPoolMiB: 80,
      rssEarlyMiB: 82,
      rssAfterMiB: 83,
      heapUsedAfterMiB: 14,
      growthMiB: 1,
      executions: 1000,
      failures: 0,
      concurrency: 8,
      throughputPerSec: 12,
      p50Ms: 400,
      p95Ms: 700,
    },
  ];
  const side = (network: 'allow' | 'open' | 'none', p50Ms: number, extra: Partial<EgressSide> = {}): EgressSide => ({
    network,
    pooled: false,
    p50Ms,
    p95Ms: p50Ms + 20,
    innerP50Ms: null,
    mibPerSec: null,
    egressPaths: network === 'allow' ? ['captured'] : [],
    runs: 15,
    failures: 0,
    problems: [],
    ...extra,
  });
  const egress: ResultsFile['egress'] = [
    {
      scenario: 'https-request',
      backend: 'spawn',
      allowList: side('allow', 260, { innerP50Ms: 71 }),
      baseline: side('open', 170, { innerP50Ms: 68 }),
      ratio: 1.529,
      addedMs: 90,
      innerRatio: 1.044,
      throughputRatio: null,
    },
    {
      scenario: 'download-10mib',
      backend: 'spawn',
      allowList: side('allow', 450, { innerP50Ms: 200, mibPerSec: 50 }),
      baseline: side('open', 250, { innerP50Ms: 133, mibPerSec: 75 }),
      ratio: 1.8,
      addedMs: 200,
      innerRatio: 1.504,
      throughputRatio: 0.667,
    },
    {
      scenario: 'hello-cold',
      backend: 'spawn',
      allowList: side('allow', 220),
      baseline: side('none', 112),
      ratio: 1.964,
      addedMs: 108,
      innerRatio: null,
      throughputRatio: null,
    },
    {
      scenario: 'hello-pooled',
      backend: 'spawn',
      allowList: side('allow', 194),
      baseline: side('none', 30, { pooled: true }),
      ratio: 6.467,
      addedMs: 164,
      innerRatio: null,
      throughputRatio: null,
    },
  ];
  return {
    machine: {
      date: '2026-11-26T12:00:00.000Z',
      hostname: 'h',
      cpus: 2,
      cpuModel: 'AMD EPYC',
      memoryGiB: 23.5,
      kernel: 'Linux 6.1',
      os: 'Debian GNU/Linux 12 (bookworm)',
      node: 'v20.20.2',
      docker: '20.10.24',
      loadAverage: [0.1, 0.2, 0.3],
    },
    settings: {
      quick: false,
      runs: 30,
      warmupRuns: 3,
      memoryExecutions: 1000,
      only: null,
      busySamples: 0,
      busyBeforeStart: 0.02,
      quietThreshold: 0.2,
      durationSec: 420,
    },
    results,
    baselines: [
      {
        baseline: 'host-node',
        scenario: 'node-hello',
        concurrency: 1,
        kind: 'latency',
        p50Ms: 140,
        p95Ms: 160,
        throughputPerSec: null,
        runs: 30,
        failures: 0,
        command: 'node -e',
      },
    ],
    memory,
    egress,
    targets: evaluateTargets(results, skipped, memory),
    skipped,
  };
}

describe('results.json schema', () => {
  it('accepts a complete file', () => {
    expect(resultsFileSchema.safeParse(sampleFile()).success).toBe(true);
  });

  it('rejects an unknown scenario, mode or baseline', () => {
    for (const patch of [{ scenario: 'ruby-hello' }, { mode: 'warm' }, { baseline: 'host-ruby' }]) {
      const file = sampleFile();
      file.results[0] = { ...file.results[0], ...patch } as ResultsFile['results'][number];
      expect(resultsFileSchema.safeParse(file).success, JSON.stringify(patch)).toBe(false);
    }
  });

  it('rejects a row without p50, or with a negative latency', () => {
    const file = sampleFile();
    const { p50Ms: _dropped, ...withoutP50 } = file.results[0] as ResultsFile['results'][number];
    file.results[0] = withoutP50 as ResultsFile['results'][number];
    expect(resultsFileSchema.safeParse(file).success).toBe(false);
    const negative = sampleFile();
    (negative.results[1] as ResultsFile['results'][number]).p95Ms = -1;
    expect(resultsFileSchema.safeParse(negative).success).toBe(false);
  });

  it('reads a file from before the egress scenarios as having none, and rejects an unknown egress scenario', () => {
    const { egress: _egress, ...older } = sampleFile();
    expect(resultsFileSchema.parse(older).egress).toEqual([]);
    const file = sampleFile();
    file.egress[0] = { ...file.egress[0]!, scenario: 'ftp-upload' } as unknown as ResultsFile['egress'][number];
    expect(resultsFileSchema.safeParse(file).success).toBe(false);
  });

  it('requires the machine record', () => {
    const { machine: _machine, ...rest } = sampleFile();
    expect(resultsFileSchema.safeParse(rest).success).toBe(false);
  });
});

describe('targets', () => {
  it('passes, misses (saying by how much) and skips (saying why)', () => {
    const targets = sampleFile().targets;
    const byName = (prefix: string) => targets.find((target) => target.name.startsWith(prefix));
    expect(byName('spawn cold')).toMatchObject({ verdict: 'PASS', measured: 1.071, limit: 1.15 });
    expect(byName('docker pooled')).toMatchObject({ verdict: 'MISS', measured: 0.6, limit: 0.5 });
    expect(byName('docker pooled')?.detail).toContain('20% over');
    expect(byName('docker cold')).toMatchObject({ verdict: 'PASS', measured: 0.595, limit: 0.8 });
    expect(byName('k8s warm')).toMatchObject({ verdict: 'SKIP' });
    expect(byName('k8s warm')?.detail).toContain('no cluster');
    expect(byName('docker host RSS')).toMatchObject({ verdict: 'PASS', measured: 1 });
  });

  it('calls RSS growth over the limit a miss', () => {
    const file = sampleFile();
    const leaking = { ...file.memory[0]!, rssAfterMiB: 140, growthMiB: 58 };
    const target = evaluateTargets(file.results, file.skipped, [leaking]).find((candidate) =>
      candidate.name.startsWith('docker host RSS'),
    );
    expect(target).toMatchObject({ verdict: 'MISS', measured: 58 });
  });
});

describe('report and chart', () => {
  it('print every row and draw a bar per node-hello latency figure', () => {
    const file = sampleFile();
    const report = renderReport(file);
    expect(report).toContain('PASS');
    expect(report).toContain('MISS');
    expect(report).toContain('skipped: k8s: no cluster');
    const svg = renderChart(file);
    expect(svg.startsWith('<svg')).toBe(true);
    // host-node, spawn cold, docker pooled, docker cold: four bars (plus the background rect).
    expect(svg.match(/<rect /g)?.length).toBe(5);
    expect(svg).toContain('bare node 140 ms');
    const markdown = renderMarkdownResults(file);
    expect(markdown).toContain('| MISS | docker pooled p50 ≤ 0.5× bare node |');
    expect(markdown).toContain('| node-hello | docker cold | 500 | 600 | 0.595× | docker-run |');
    expect(markdown).toContain('- skipped: k8s: no cluster');
    expect(report).toContain('hello-pooled: both sides from a warm pool');
    expect(report).toMatch(
      /download-10mib\s+450\s+open cold\s+250\s+1\.8\s+200\s+200 \/ 133\s+1\.504\s+50 \/ 75\s+0\.667\s+captured/,
    );
    expect(markdown).toContain('compares a pooled allow-list sandbox with a pooled `none` one');
    expect(markdown).toContain(
      '| hello-pooled | 194 | none pooled | 30 | 6.467 | 164 | – | – | – | – | captured | 15+15 | 0 |',
    );
  });
});

describe('--require', () => {
  it('is satisfied by a backend with every scenario measured and no failure', () => {
    const file = sampleFile();
    const scenarios = ['python-hello', 'bash-hello', 'node-json'] as const;
    for (const scenario of scenarios) file.results.push({ ...file.results[0]!, scenario });
    expect(requirementProblems(file, ['spawn'])).toEqual([]);
  });

  it('names missing egress scenarios and failed egress runs of spawn', () => {
    const file = sampleFile();
    for (const scenario of ['python-hello', 'bash-hello', 'node-json'] as const)
      file.results.push({ ...file.results[0]!, scenario });
    file.egress = file.egress.filter((row) => row.scenario !== 'hello-cold');
    file.egress[0] = { ...file.egress[0]!, allowList: { ...file.egress[0]!.allowList, failures: 1 } };
    expect(requirementProblems(file, ['spawn'])).toEqual([
      'spawn has no egress figure for hello-cold',
      'spawn egress https-request network allow: 1 failed runs',
    ]);
  });

  it('names a skipped backend, failed runs and missing scenarios', () => {
    const file = sampleFile();
    expect(requirementProblems(file, ['k8s'])).toEqual(['k8s was skipped: no cluster (set KUBECONFIG)']);
    file.results[3] = { ...file.results[3]!, failures: 2 };
    const problems = requirementProblems(file, ['docker']);
    expect(problems).toContain('docker pooled node-hello throughput ×8: 2 failed runs');
    expect(problems).toContain('docker pooled has no latency figure for python-hello, bash-hello, node-json');
  });
});
