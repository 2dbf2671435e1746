export const MISSED = Symbol('missed deadline');

/**
 * Resolves with the promise's value, or with MISSED once `ms` pass: a backend that
 * never returns must not hang the benchmark. The promise keeps running; its
 * outcome, if it ever comes, is ignored.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof MISSED> {
  let timer: NodeJS.Timeout | undefined;
  const missed = new Promise<typeof MISSED>((resolve) => {
    timer = setTimeout(() => resolve(MISSED), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, missed]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes an executor, waiting at most `ms`; says what went wrong, or undefined when it closed. */
export async function closeWithin(
  executor: { name: string; close(): Promise<void> },
  ms: number,
): Promise<string | undefined> {
  try {
    const outcome = await withDeadline(executor.close(), ms);
    return outcome === MISSED
      ? `close() of the ${executor.name} executor did not finish within ${ms / 1000} s; its sandboxes may be left behind`
      : undefined;
  } catch (error) {
    return `close() of the ${executor.name} executor failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}
