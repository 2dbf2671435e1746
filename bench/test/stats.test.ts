import { describe, expect, it } from 'vitest';
import { percentile, ratio, summarize } from '../src/stats.js';

describe('percentile', () => {
  it('interpolates between closest ranks', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 0.5)).toBe(30);
    // (n-1)·0.95 = 3.8 → 40 + 0.8·(50-40)
    expect(percentile([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48);
    expect(percentile([10, 20, 30, 40, 50], 0)).toBe(10);
    expect(percentile([10, 20, 30, 40, 50], 1)).toBe(50);
  });

  it('does not depend on the order of the samples, nor change them', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(percentile(samples, 0.5)).toBe(3);
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });

  it('returns the value of a single sample for every quantile', () => {
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([7], 0.95)).toBe(7);
  });

  it('refuses no samples and quantiles outside 0..1', () => {
    expect(() => percentile([], 0.5)).toThrow(RangeError);
    expect(() => percentile([1], 1.5)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('gives p50, p95, min, max and mean rounded to 0.1 ms', () => {
    const samples = Array.from({ length: 20 }, (_, index) => index + 1); // 1..20
    expect(summarize(samples)).toEqual({ runs: 20, p50Ms: 10.5, p95Ms: 19.1, minMs: 1, maxMs: 20, meanMs: 10.5 });
  });

  it('keeps a slow outlier out of the median but in p95', () => {
    const summary = summarize([
      100, 101, 99, 100, 102, 98, 100, 101, 99, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 900,
    ]);
    expect(summary.p50Ms).toBe(100);
    expect(summary.p95Ms).toBeGreaterThan(130);
  });
});

describe('ratio', () => {
  it('divides and rounds to three decimals', () => {
    expect(ratio(50, 140)).toBe(0.357);
    expect(ratio(161, 140)).toBe(1.15);
  });

  it('is null when the baseline is missing or zero', () => {
    expect(ratio(50, undefined)).toBeNull();
    expect(ratio(undefined, 140)).toBeNull();
    expect(ratio(50, 0)).toBeNull();
  });
});
