import type { EgressRow, EgressSide, ResultsFile } from './results.js';

type Cell = string | number | null | undefined;
type TableRenderer = (headers: readonly string[], rows: readonly (readonly Cell[])[]) => string;

export const EGRESS_HEADERS = [
  'backend',
  'scenario',
  'allow-list p50 ms',
  'baseline',
  'baseline p50 ms',
  'ratio',
  'added ms',
  'in-sandbox allow/base ms',
  'in-sandbox ratio',
  'MiB/s allow/base',
  'MiB/s ratio',
  'path',
  'runs',
  'fail',
] as const;

const side = (entry: EgressSide) => `${entry.network}${entry.pooled ? ' pooled' : ' cold'}`;
const pair = (a: number | null, b: number | null) => (a === null && b === null ? null : `${a ?? '–'} / ${b ?? '–'}`);

/** One line per egress scenario, for the stdout report and docs/benchmarks.md alike. */
export function egressCells(row: EgressRow): Cell[] {
  return [
    row.backend,
    row.scenario,
    row.allowList.p50Ms,
    side(row.baseline),
    row.baseline.p50Ms,
    row.ratio,
    row.addedMs,
    pair(row.allowList.innerP50Ms, row.baseline.innerP50Ms),
    row.innerRatio,
    pair(row.allowList.mibPerSec, row.baseline.mibPerSec),
    row.throughputRatio,
    row.allowList.egressPaths.join(',') || null,
    `${row.allowList.runs}+${row.baseline.runs}`,
    row.allowList.failures + row.baseline.failures,
  ];
}

export function egressTable(file: ResultsFile, render: TableRenderer): string {
  return render(EGRESS_HEADERS, file.egress.map(egressCells));
}
