import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

interface CpuTimes {
  busy: number;
  total: number;
}

/** Aggregate CPU jiffies from /proc/stat; undefined where there is none (macOS). */
async function readCpuTimes(): Promise<CpuTimes | undefined> {
  let text: string;
  try {
    text = await readFile('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  // idle + iowait are not busy.
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Fraction (0..1) of all cores busy over `windowMs`. */
export async function busyFraction(windowMs: number): Promise<number | undefined> {
  const before = await readCpuTimes();
  await sleep(windowMs);
  const after = await readCpuTimes();
  if (!before || !after || after.total === before.total) return undefined;
  return (after.busy - before.busy) / (after.total - before.total);
}

export interface QuietOptions {
  /** Busy fraction of all cores under which the machine counts as quiet. */
  threshold: number;
  windowMs: number;
  /** Give up after this long (the sample then counts as started on a busy machine). */
  maxWaitMs: number;
}

/**
 * Waits until the machine is quiet, so a sample does not pay for the previous
 * one's background work (a pool refilling, a container being removed). This is
 * what "the pool is full" means without peeking inside a backend: its refill
 * work has finished. Resolves true when quiet, false when it gave up.
 */
export async function waitForQuiet(options: QuietOptions): Promise<boolean> {
  if (options.maxWaitMs <= 0) return true;
  const deadline = performance.now() + options.maxWaitMs;
  for (;;) {
    const busy = await busyFraction(options.windowMs);
    if (busy === undefined || busy <= options.threshold) return true;
    if (performance.now() >= deadline) return false;
  }
}

/** What every cordon backend's executor (a `BaseExecutor`) offers: its background work done. */
interface Settles {
  settled(): Promise<void>;
}

/**
 * Waits, at most `maxWaitMs`, for the executors' background work (pool refills, removals)
 * through their `settled()`; an executor without one is skipped (the quiet check covers it).
 */
export async function waitForSettled(executors: readonly object[], maxWaitMs: number): Promise<void> {
  const settling = executors
    .filter((executor): executor is Settles => typeof (executor as Partial<Settles>).settled === 'function')
    .map((executor) => executor.settled().catch(() => undefined));
  if (settling.length === 0 || maxWaitMs <= 0) return;
  const controller = new AbortController();
  await Promise.race([
    Promise.all(settling),
    sleep(maxWaitMs, undefined, { signal: controller.signal, ref: false }).catch(() => undefined),
  ]);
  controller.abort();
}
