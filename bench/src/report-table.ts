import { busyRun } from './chart.js';
import { egressTable } from './egress-report.js';
import type { ResultsFile } from './results.js';

type Cell = string | number | null | undefined;

/** A plain aligned text table: numbers right-aligned, everything else left. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => row.map(cellText));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...text.map((row) => row[column]?.length ?? 0)),
  );
  const numeric = headers.map(
    (_, column) =>
      rows.length > 0 &&
      rows.every((row) => typeof row[column] === 'number' || row[column] === null || row[column] === undefined),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...text.map(line)].join('\n');
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '–';
  return String(cell);
}

/** The report for people, on stdout. */
export function renderReport(file: ResultsFile): string {
  const { machine, settings } = file;
  const parts: string[] = [];
  parts.push(
    `cordon bench${settings.quick ? ' --quick (smoke pass: numbers mean nothing)' : ''} · ${machine.date}`,
    `machine: ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}, ${machine.os}, Node ${machine.node}, Docker ${machine.docker ?? 'none'}, load ${machine.loadAverage.join(' ')}`,
    `runs: ${settings.runs} per latency figure (+${settings.warmupRuns} warm-up), ${settings.memoryExecutions} for memory; CPU ${Math.round(settings.busyBeforeStart * 100)}% busy before start; ${settings.busySamples} samples started on a busy machine; ${settings.durationSec} s`,
  );
  if (busyRun(file) && !settings.quick)
    parts.push('WARNING: the machine was busy during the run; ratios are less trustworthy. Run it alone.');

  parts.push('', 'Baselines (bare, measured in this run)');
  parts.push(
    table(
      ['baseline', 'scenario', 'kind', 'conc', 'p50 ms', 'p95 ms', 'exec/s', 'runs', 'fail'],
      file.baselines.map((row) => [
        row.baseline,
        row.scenario,
        row.kind,
        row.concurrency,
        row.p50Ms,
        row.p95Ms,
        row.throughputPerSec,
        row.runs,
        row.failures,
      ]),
    ),
  );

  parts.push('', 'Backends (ratio = p50 / baseline p50, same scenario and concurrency)');
  parts.push(
    table(
      [
        'backend',
        'mode',
        'scenario',
        'kind',
        'conc',
        'p50 ms',
        'p95 ms',
        'exec/s',
        'baseline',
        'ratio',
        'runs',
        'fail',
      ],
      file.results.map((row) => [
        row.backend,
        row.mode,
        row.scenario,
        row.kind,
        row.concurrency,
        row.p50Ms,
        row.p95Ms,
        row.throughputPerSec,
        row.baseline,
        row.ratio,
        row.runs,
        row.failures,
      ]),
    ),
  );

  if (file.egress.length > 0) {
    parts.push(
      '',
      'Egress (allow-list vs open/none, interleaved; ratio = allow-list p50 / baseline p50; hello-pooled: both sides from a warm pool)',
    );
    parts.push(egressTable(file, table));
  }

  if (file.memory.length > 0) {
    parts.push('', 'Host memory of a process driving one executor (RSS after GC, MiB)');
    parts.push(
      table(
        [
          'backend',
          'pool',
          'before',
          'warm pool',
          'early',
          'after',
          'growth',
          'heap',
          'executions',
          'fail',
          'conc',
          'exec/s',
        ],
        file.memory.map((row) => [
          row.backend,
          row.poolSize,
          row.rssBeforeMiB,
          row.rssWarmPoolMiB,
          row.rssEarlyMiB,
          row.rssAfterMiB,
          row.growthMiB,
          row.heapUsedAfterMiB,
          row.executions,
          row.failures,
          row.concurrency,
          row.throughputPerSec,
        ]),
      ),
    );
  }

  parts.push('', 'Targets');
  parts.push(
    table(
      ['verdict', 'target', 'measured'],
      file.targets.map((target) => [
        target.verdict,
        target.name,
        target.detail.length > 150 ? `${target.detail.slice(0, 149)}…` : target.detail,
      ]),
    ),
  );

  if (file.skipped.length > 0) {
    parts.push('', 'Skipped');
    for (const skip of file.skipped)
      parts.push(`skipped: ${skip.backend}${skip.mode ? ` ${skip.mode}` : ''}: ${skip.reason}`);
  }
  return `${parts.join('\n')}\n`;
}
