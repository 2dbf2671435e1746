import { busyRun } from './chart.js';
import { egressTable } from './egress-report.js';
import type { ResultsFile } from './results.js';

export const RESULTS_START = '<!-- bench:results:start -->';
export const RESULTS_END = '<!-- bench:results:end -->';

type Cell = string | number | null | undefined;

function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cell = (value: Cell) => (value === null || value === undefined ? '–' : String(value).replace(/\|/g, '\\|'));
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

const times = (value: number | null | undefined) => (value === null || value === undefined ? null : `${value}×`);

/** The results section of docs/benchmarks.md, generated from one run's results.json. */
export function renderMarkdownResults(file: ResultsFile): string {
  const { machine, settings } = file;
  const parts: string[] = [];
  parts.push(
    `Run of ${machine.date.slice(0, 16).replace('T', ' ')} UTC on ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel} (${machine.os}), Node ${machine.node}, Docker ${machine.docker ?? 'none'}; ` +
      `${settings.runs} measured runs per \`console.log(1)\` figure after ${settings.warmupRuns} warm-up, CPU ${Math.round(settings.busyBeforeStart * 100)}% busy before start, ` +
      `${settings.busySamples} samples started on a busy machine, ${Math.round(settings.durationSec)} s in all. Full data: \`bench/results.json\`.`,
  );
  if (busyRun(file))
    parts.push(
      '',
      '**The machine was busy during this run (other work, or refills that never settled): the ratios are less trustworthy. Run it alone.**',
    );
  if (file.skipped.length > 0)
    parts.push(
      '',
      ...file.skipped.map((skip) => `- skipped: ${skip.backend}${skip.mode ? ` ${skip.mode}` : ''}: ${skip.reason}`),
    );

  parts.push(
    '',
    '**Targets**',
    '',
    markdownTable(
      ['verdict', 'target', 'measured'],
      file.targets.map((target) => [target.verdict, target.name, target.detail]),
    ),
  );

  const latencyBaselines = file.baselines.filter((row) => row.kind === 'latency');
  const latency = file.results.filter((row) => row.kind === 'latency');
  parts.push(
    '',
    '**Latency** (spaced calls, each on a quiet machine, pools full; ms)',
    '',
    markdownTable(
      ['scenario', 'who', 'p50', 'p95', 'ratio', 'vs'],
      [
        ...latencyBaselines.map(
          (row) => [row.scenario, `\`${row.baseline}\` (baseline)`, row.p50Ms, row.p95Ms, null, null] as Cell[],
        ),
        ...latency.map(
          (row) =>
            [
              row.scenario,
              `${row.backend} ${row.mode}`,
              row.p50Ms,
              row.p95Ms,
              times(row.ratio),
              row.baseline,
            ] as Cell[],
        ),
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ),
  );

  const throughputBaselines = file.baselines.filter((row) => row.kind === 'throughput');
  const throughput = file.results.filter((row) => row.kind !== 'latency');
  parts.push(
    '',
    '**Throughput** (`console.log(1)` back to back, pools refilling; `sustained` = the memory run)',
    '',
    markdownTable(
      ['who', 'kind', 'concurrency', 'exec/s', 'p50 ms', 'p95 ms', 'p50 vs host-node'],
      [
        ...throughputBaselines.map(
          (row) =>
            [
              '`host-node` (baseline)',
              row.kind,
              row.concurrency,
              row.throughputPerSec,
              row.p50Ms,
              row.p95Ms,
              null,
            ] as Cell[],
        ),
        ...throughput.map(
          (row) =>
            [
              `${row.backend} ${row.mode}`,
              row.kind,
              row.concurrency,
              row.throughputPerSec,
              row.p50Ms,
              row.p95Ms,
              times(row.ratio),
            ] as Cell[],
        ),
      ],
    ),
  );

  if (file.egress.length > 0) {
    parts.push(
      '',
      '**Egress** (allow-list vs `open`/`none`, interleaved; ms, p50; `hello-pooled` compares a pooled allow-list sandbox with a pooled `none` one)',
      '',
      egressTable(file, markdownTable),
    );
  }

  if (file.memory.length > 0) {
    parts.push(
      '',
      '**Host memory** (RSS after GC of a Node process driving one executor, MiB)',
      '',
      markdownTable(
        [
          'backend',
          'pool',
          'before create',
          'warm pool',
          `after ${Math.max(1, Math.floor((file.memory[0]?.executions ?? 10) / 10))}`,
          'after all',
          'growth',
          'executions',
          'failures',
        ],
        file.memory.map((row) => [
          row.backend,
          row.poolSize,
          row.rssBeforeMiB,
          row.rssWarmPoolMiB,
          row.rssEarlyMiB,
          row.rssAfterMiB,
          row.growthMiB,
          row.executions,
          row.failures,
        ]),
      ),
    );
  }
  return parts.join('\n');
}

/** Replaces what lies between the markers; the rest of the document is left as written. */
export function replaceResultsSection(document: string, section: string): string {
  const start = document.indexOf(RESULTS_START);
  const end = document.indexOf(RESULTS_END);
  if (start < 0 || end < start)
    throw new Error(`docs/benchmarks.md lacks the ${RESULTS_START} … ${RESULTS_END} markers`);
  return `${document.slice(0, start + RESULTS_START.length)}\n${section}\n${document.slice(end)}`;
}
