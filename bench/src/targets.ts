import type { BaselineName, MemoryRow, Mode, ResultRow, Skipped, Target } from './results.js';
import { ratio } from './stats.js';

interface TargetSpec {
  backend: string;
  mode: Mode;
  baseline: BaselineName;
  limit: number;
  text: string;
}

/** The speed targets the backend issues quote, all on spaced `node-hello` latency (p50). */
const TARGETS: readonly TargetSpec[] = [
  { backend: 'spawn', mode: 'cold', baseline: 'host-node', limit: 1.15, text: 'spawn cold p50 ≤ 1.15× bare node' },
  { backend: 'docker', mode: 'pooled', baseline: 'host-node', limit: 0.5, text: 'docker pooled p50 ≤ 0.5× bare node' },
  { backend: 'docker', mode: 'cold', baseline: 'docker-run', limit: 0.8, text: 'docker cold p50 ≤ 0.8× docker run' },
];

/** RSS growth over the long run that still counts as "no growth" (allocator noise, lazily loaded code). */
export const RSS_GROWTH_LIMIT_MIB = 10;

export function evaluateTargets(
  rows: readonly ResultRow[],
  skipped: readonly Skipped[],
  memory: readonly MemoryRow[] = [],
): Target[] {
  const latency = (backend: string, mode: Mode) =>
    rows.find(
      (row) => row.kind === 'latency' && row.scenario === 'node-hello' && row.backend === backend && row.mode === mode,
    );
  const skipReason = (backend: string, mode: Mode) =>
    skipped.find((skip) => skip.backend === backend && (skip.mode === undefined || skip.mode === mode))?.reason;

  const targets: Target[] = TARGETS.map((spec) => {
    const row = latency(spec.backend, spec.mode);
    const measured = row ? (row.baseline === spec.baseline ? row.ratio : (row.ratios?.[spec.baseline] ?? null)) : null;
    if (!row)
      return {
        name: spec.text,
        verdict: 'SKIP',
        measured: null,
        limit: spec.limit,
        detail: `not measured: ${skipReason(spec.backend, spec.mode) ?? 'not selected'}`,
      };
    if (measured === null)
      return {
        name: spec.text,
        verdict: 'SKIP',
        measured: null,
        limit: spec.limit,
        detail: `baseline ${spec.baseline} could not run`,
      };
    const pass = measured <= spec.limit;
    const by = pass ? '' : `, ${Math.round((measured / spec.limit - 1) * 100)}% over`;
    return {
      name: spec.text,
      verdict: pass ? 'PASS' : 'MISS',
      measured,
      limit: spec.limit,
      detail: `${row.p50Ms} ms, ${measured}× ${spec.baseline}${by}${floorNote(row, spec)}`,
    };
  });

  // k8s has no target of its own: it is shown beside docker, mode for mode.
  for (const mode of ['pooled', 'cold'] as const) {
    const k8s = latency('k8s', mode);
    const docker = latency('docker', mode);
    const name = `k8s ${mode === 'pooled' ? 'warm' : 'cold'} p50 beside docker ${mode}`;
    if (!k8s) {
      targets.push({
        name,
        verdict: 'SKIP',
        measured: null,
        limit: null,
        detail: `not measured: ${skipReason('k8s', mode) ?? 'not selected'}`,
      });
      continue;
    }
    const versusDocker = ratio(k8s.p50Ms, docker?.p50Ms);
    targets.push({
      name,
      verdict: 'INFO',
      measured: versusDocker,
      limit: null,
      detail: `${k8s.p50Ms} ms vs docker ${docker ? `${docker.p50Ms} ms (${versusDocker}×)` : 'not measured'}; ${k8s.ratio ?? '–'}× ${k8s.baseline}`,
    });
  }
  for (const row of memory) {
    const pass = row.growthMiB <= RSS_GROWTH_LIMIT_MIB;
    targets.push({
      name: `${row.backend} host RSS does not grow over ${row.executions} executions`,
      verdict: pass ? 'PASS' : 'MISS',
      measured: row.growthMiB,
      limit: RSS_GROWTH_LIMIT_MIB,
      detail: `${row.rssEarlyMiB} → ${row.rssAfterMiB} MiB (${row.growthMiB >= 0 ? '+' : ''}${row.growthMiB} MiB, limit +${RSS_GROWTH_LIMIT_MIB}); ${row.rssWarmPoolMiB} MiB with a warm pool of ${row.poolSize}`,
    });
  }
  return targets;
}

/** For spawn: how much of the bound the namespaces alone take (bare node in bwrap against bare node). */
function floorNote(row: ResultRow, spec: TargetSpec): string {
  const versusHost = row.ratios?.['host-node'];
  const versusBwrap = row.ratios?.['bwrap-node'];
  const versusPerl = row.ratios?.['perl-launcher-node'];
  if (spec.backend !== 'spawn' || !versusHost) return '';
  const alone = (versusReference: number | undefined, what: string) =>
    versusReference
      ? `; bare node in ${what} alone: ${Math.round((versusHost / versusReference) * 100) / 100}× host-node`
      : '';
  return alone(versusBwrap, 'bwrap') + alone(versusPerl, 'the perl launcher');
}
