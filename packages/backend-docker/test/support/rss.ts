/** Samples this process's resident set while `task` runs; returns the task's value and the peak growth in MiB. */
export async function peakRssGrowth<T>(
  task: () => Promise<T>,
  intervalMs = 10,
): Promise<{ value: T; baselineMiB: number; peakMiB: number; growthMiB: number }> {
  const MiB = 1024 * 1024;
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  try {
    const value = await task();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, baselineMiB: baseline / MiB, peakMiB: peak / MiB, growthMiB: (peak - baseline) / MiB };
  } finally {
    clearInterval(sampler);
  }
}
