/** Summary of one set of latency samples, in milliseconds. */
export interface LatencySummary {
  runs: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
}

/**
 * The q-quantile (0..1) by linear interpolation between closest ranks (the
 * "type 7" estimator of R and NumPy), so p50 of an even count is the mean of
 * the two middle values and small samples do not jump between neighbours.
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`);
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function summarize(samplesMs: readonly number[]): LatencySummary {
  if (samplesMs.length === 0) throw new RangeError('no samples to summarize');
  return {
    runs: samplesMs.length,
    p50Ms: round(percentile(samplesMs, 0.5)),
    p95Ms: round(percentile(samplesMs, 0.95)),
    minMs: round(Math.min(...samplesMs)),
    maxMs: round(Math.max(...samplesMs)),
    meanMs: round(samplesMs.reduce((sum, value) => sum + value, 0) / samplesMs.length),
  };
}

/** Candidate over baseline, to three decimals; undefined when either is missing. */
export function ratio(candidateMs: number | undefined, baselineMs: number | undefined): number | null {
  if (candidateMs === undefined || baselineMs === undefined || baselineMs <= 0) return null;
  return Math.round((candidateMs / baselineMs) * 1000) / 1000;
}

export function round(value: number, decimals = 1): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
