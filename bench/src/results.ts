import { z } from 'zod';

export const SCENARIOS = ['node-hello', 'python-hello', 'bash-hello', 'node-json'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const BASELINES = ['host-node', 'host-python', 'host-bash', 'docker-run', 'original-api'] as const;
export type BaselineName = (typeof BASELINES)[number];

/**
 * Reference points measured beside the baselines but never a figure's divisor:
 * `bwrap-node` is bare node inside bubblewrap's namespaces, what kernel isolation
 * alone costs, so a spawn figure can be split into namespaces and the rest;
 * `perl-launcher-node` the same through spawn's perl launcher (hosts without bubblewrap).
 */
export const REFERENCES = ['bwrap-node', 'perl-launcher-node'] as const;
export const MEASURED_BASELINES = [...BASELINES, ...REFERENCES] as const;
export type MeasuredBaseline = (typeof MEASURED_BASELINES)[number];

export const MODES = ['cold', 'pooled'] as const;
export type Mode = (typeof MODES)[number];

/**
 * `latency`: calls spaced out, each on a quiet machine (a pooled backend's pool is
 * full); `throughput`: back-to-back at `concurrency`, the pool refilling as it can;
 * `sustained`: the same over the memory phase's long run (1 000 executions).
 */
export const KINDS = ['latency', 'throughput', 'sustained'] as const;
export type Kind = (typeof KINDS)[number];

const ms = z.number().nonnegative();

export const resultRowSchema = z.object({
  backend: z.string().min(1),
  mode: z.enum(MODES),
  scenario: z.enum(SCENARIOS),
  concurrency: z.number().int().positive(),
  p50Ms: ms,
  p95Ms: ms,
  /** Executions per second; null for spaced latency runs, where it would mean nothing. */
  throughputPerSec: z.number().nonnegative().nullable(),
  /** What `ratio` divides by, measured in the same run. */
  baseline: z.enum(BASELINES),
  /** p50Ms / the baseline's p50 (same scenario and concurrency); null if the baseline could not run. */
  ratio: z.number().nonnegative().nullable(),
  kind: z.enum(KINDS),
  runs: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  /** The same p50 against every other baseline measured for this scenario. */
  ratios: z.partialRecord(z.enum(MEASURED_BASELINES), z.number().nonnegative()).optional(),
});
export type ResultRow = z.infer<typeof resultRowSchema>;

export const baselineRowSchema = z.object({
  baseline: z.enum(MEASURED_BASELINES),
  scenario: z.enum(SCENARIOS),
  concurrency: z.number().int().positive(),
  kind: z.enum(KINDS),
  p50Ms: ms,
  p95Ms: ms,
  throughputPerSec: z.number().nonnegative().nullable(),
  runs: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  command: z.string(),
});
export type BaselineRow = z.infer<typeof baselineRowSchema>;

export const memoryRowSchema = z.object({
  backend: z.string().min(1),
  poolSize: z.number().int().nonnegative(),
  /** RSS of a fresh driving process (Node plus the SDK) before creating the executor. */
  rssBeforeMiB: z.number().nonnegative(),
  /** With the executor created and its pool full. */
  rssWarmPoolMiB: z.number().nonnegative(),
  /** After the first tenth of the executions (JIT and caches settled). */
  rssEarlyMiB: z.number().nonnegative(),
  rssAfterMiB: z.number().nonnegative(),
  heapUsedAfterMiB: z.number().nonnegative(),
  /** rssAfter − rssEarly: what a leak would show. */
  growthMiB: z.number(),
  executions: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  concurrency: z.number().int().positive(),
  throughputPerSec: z.number().nonnegative(),
  /** Per-execution latency over the long run. */
  p50Ms: ms,
  p95Ms: ms,
});
export type MemoryRow = z.infer<typeof memoryRowSchema>;

/**
 * The egress scenarios (spawn): `https-request`, one small HTTPS request; `download-10mib`,
 * 10 MiB over HTTPS; `hello-cold`, `console.log(1)` on a cold executor; `hello-pooled`,
 * the same on the pooled executor, both sides from a warm pool (allow-list and none).
 */
export const EGRESS_SCENARIOS = ['https-request', 'download-10mib', 'hello-cold', 'hello-pooled'] as const;
export type EgressScenarioName = (typeof EGRESS_SCENARIOS)[number];

export const egressSideSchema = z.object({
  network: z.enum(['allow', 'open', 'none']),
  /** Whether the side is served from a warm pool (an allow-list from spawn's allow-list pool). */
  pooled: z.boolean(),
  /** Wall time of one `execute()`, sandbox start included. */
  p50Ms: ms,
  p95Ms: ms,
  /** The program's own timing of its request or download (in the sandbox); null where it makes none. */
  innerP50Ms: ms.nullable(),
  /** Download rate the program measured itself, p50 over runs; null but for downloads. */
  mibPerSec: z.number().nonnegative().nullable(),
  /** How the allowed connections reached the broker (audit `path`: `captured`, `proxy-connect`, ...). */
  egressPaths: z.array(z.string()),
  runs: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  /** The first few distinct problems of failed runs. */
  problems: z.array(z.string()),
});
export type EgressSide = z.infer<typeof egressSideSchema>;

/** One egress scenario: the allow-list side against its baseline, interleaved in the same run. */
export const egressRowSchema = z.object({
  scenario: z.enum(EGRESS_SCENARIOS),
  backend: z.string().min(1),
  allowList: egressSideSchema,
  baseline: egressSideSchema,
  /** allowList p50 / baseline p50 of the `execute()` wall time. */
  ratio: z.number().nonnegative().nullable(),
  /** allowList p50 − baseline p50, ms. */
  addedMs: z.number().nullable(),
  /** The same ratio of the program's own request/download time. */
  innerRatio: z.number().nonnegative().nullable(),
  /** allowList MiB/s / baseline MiB/s (downloads). */
  throughputRatio: z.number().nonnegative().nullable(),
});
export type EgressRow = z.infer<typeof egressRowSchema>;

export const TARGET_VERDICTS = ['PASS', 'MISS', 'INFO', 'SKIP'] as const;

export const targetSchema = z.object({
  name: z.string(),
  verdict: z.enum(TARGET_VERDICTS),
  /** The measured ratio, or null if it could not be measured. */
  measured: z.number().nullable(),
  /** The ratio the measure must stay at or under; null for information-only rows. */
  limit: z.number().nullable(),
  detail: z.string(),
});
export type Target = z.infer<typeof targetSchema>;

export const machineSchema = z.object({
  date: z.string(),
  hostname: z.string(),
  cpus: z.number().int().positive(),
  cpuModel: z.string(),
  memoryGiB: z.number().positive(),
  kernel: z.string(),
  os: z.string(),
  node: z.string(),
  docker: z.string().nullable(),
  loadAverage: z.tuple([z.number(), z.number(), z.number()]),
});
export type Machine = z.infer<typeof machineSchema>;

export const skippedSchema = z.object({ backend: z.string(), mode: z.enum(MODES).optional(), reason: z.string() });
export type Skipped = z.infer<typeof skippedSchema>;

export const resultsFileSchema = z.object({
  machine: machineSchema,
  settings: z.object({
    quick: z.boolean(),
    runs: z.number().int().positive(),
    warmupRuns: z.number().int().nonnegative(),
    memoryExecutions: z.number().int().nonnegative(),
    only: z.array(z.string()).nullable(),
    /** Samples that started while the machine was still busy (quiet-wait gave up). */
    busySamples: z.number().int().nonnegative(),
    /** Fraction of all cores busy in the half second before anything started. */
    busyBeforeStart: z.number().nonnegative(),
    /** Busy fraction under which the machine counted as quiet before a sample. */
    quietThreshold: z.number().nonnegative(),
    durationSec: z.number().nonnegative(),
  }),
  results: z.array(resultRowSchema),
  baselines: z.array(baselineRowSchema),
  memory: z.array(memoryRowSchema),
  /** Allow-list cost on spawn; empty when spawn was not measured (older files lack it). */
  egress: z.array(egressRowSchema).default([]),
  targets: z.array(targetSchema),
  skipped: z.array(skippedSchema),
});
export type ResultsFile = z.infer<typeof resultsFileSchema>;
