import {
  FAILING_VERDICTS,
  VERDICTS,
  type ConformanceReport,
  type ConformanceResult,
  type ConformanceSummary,
  type Verdict,
} from './types.js';

export function summarize(results: readonly ConformanceResult[]): ConformanceSummary {
  const counts: Partial<Record<Verdict, number>> = {};
  for (const result of results) counts[result.verdict] = (counts[result.verdict] ?? 0) + 1;
  return { total: results.length, counts, passed: results.every((result) => !FAILING_VERDICTS.has(result.verdict)) };
}

/** 0 when every result is `blocked`, `holds` or `not-applicable`; 1 on any `LEAK`, `FAILS`, `invalid` or `not-enforced`. */
export function conformanceExitCode(report: ConformanceReport): number {
  return report.results.some((result) => FAILING_VERDICTS.has(result.verdict)) ? 1 : 0;
}

/** The `--json` shape: `{ backend, networkEnforcement, summary, results: [{ id, verdict, detail, ... }] }` (`tier`, its old name, is kept for one release). */
export function conformanceToJson(report: ConformanceReport): Record<string, unknown> {
  return {
    backend: report.backend,
    networkEnforcement: report.networkEnforcement,
    tier: report.networkEnforcement,
    startedAt: report.startedAt,
    durationMs: report.durationMs,
    summary: report.summary,
    results: report.results.map((result) => ({
      id: result.id,
      verdict: result.verdict,
      detail: result.detail,
      kind: result.kind,
      group: result.group,
      title: result.title,
      language: result.language,
      ...(result.controlOk !== undefined ? { controlOk: result.controlOk } : {}),
      ...(result.probe ? { probe: result.probe } : {}),
      ...(result.control ? { control: result.control } : {}),
    })),
  };
}

export interface TableOptions {
  /** Wrap width for the detail column. @default process.stdout.columns or 160 */
  width?: number;
}

const HEADERS = ['id', 'lang', 'verdict', 'detail'] as const;

/**
 * A plain aligned table for people: one row per result in escape-probes.md order
 * (so two runs diff cleanly), details wrapped, and a PASS/FAIL summary line.
 */
export function formatConformanceTable(report: ConformanceReport, options: TableOptions = {}): string {
  const width = Math.max(80, options.width ?? process.stdout.columns ?? 160);
  const rows = report.results.map((result) => [result.id, result.language, result.verdict, result.detail] as const);
  const idWidth = Math.max(HEADERS[0].length, ...rows.map((row) => row[0].length));
  const langWidth = Math.max(HEADERS[1].length, ...rows.map((row) => row[1].length));
  const verdictWidth = Math.max(HEADERS[2].length, ...VERDICTS.map((verdict) => verdict.length));
  const detailWidth = Math.max(30, width - idWidth - langWidth - verdictWidth - 6);
  const indent = ' '.repeat(idWidth + langWidth + verdictWidth + 6);
  const line = (id: string, lang: string, verdict: string, detail: string) => {
    const [first = '', ...rest] = wrap(detail, detailWidth);
    return [
      `${id.padEnd(idWidth)}  ${lang.padEnd(langWidth)}  ${verdict.padEnd(verdictWidth)}  ${first}`.trimEnd(),
      ...rest.map((part) => indent + part),
    ].join('\n');
  };
  const out = [
    `cordon conformance: backend ${report.backend} (network ${report.networkEnforcement}), ${report.results.length} checks in ${(report.durationMs / 1000).toFixed(1)} s`,
    line(...HEADERS),
    line('-'.repeat(idWidth), '-'.repeat(langWidth), '-'.repeat(verdictWidth), '-'.repeat(Math.min(detailWidth, 40))),
  ];
  let kind: string | undefined;
  for (const [index, result] of report.results.entries()) {
    if (kind !== undefined && result.kind !== kind) out.push('');
    kind = result.kind;
    const row = rows[index];
    if (row) out.push(line(...row));
  }
  const counts = VERDICTS.filter((verdict) => report.summary.counts[verdict]).map(
    (verdict) => `${report.summary.counts[verdict]} ${verdict}`,
  );
  out.push('', `${report.summary.passed ? 'PASS' : 'FAIL'}: ${counts.join(', ')}`);
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (current.length > 0 && current.length + 1 + word.length > width) {
      lines.push(current);
      current = '';
    }
    let rest = word;
    while (rest.length > width) {
      if (current.length > 0) {
        lines.push(current);
        current = '';
      }
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    current = current.length > 0 ? `${current} ${rest}` : rest;
  }
  if (current.length > 0) lines.push(current);
  return lines.length > 0 ? lines : [''];
}
