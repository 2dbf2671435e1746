/** This process's resident set while something runs: the host-memory probes' measure. */
export interface RssPeak<T> {
  readonly value: T;
  readonly baselineBytes: number;
  readonly peakBytes: number;
}

/** How often the resident set is sampled. */
export const RSS_SAMPLE_MS = 50;

/**
 * Runs `run` while sampling `process.memoryUsage.rss()` every `RSS_SAMPLE_MS`,
 * and once more when it settles (buffers a backend kept are still alive then).
 */
export async function withRssPeak<T>(run: () => Promise<T>): Promise<RssPeak<T>> {
  const baselineBytes = process.memoryUsage.rss();
  let peakBytes = baselineBytes;
  const sample = () => {
    peakBytes = Math.max(peakBytes, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  try {
    const value = await run();
    sample();
    return { value, baselineBytes, peakBytes };
  } finally {
    clearInterval(timer);
  }
}
