import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_BACKENDS, type BenchBackend } from './backend-candidates.js';
import { defaultRuntimeImage } from './docker-baselines.js';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(benchDir, '..');

export interface BenchSettings {
  quick: boolean;
  backends: readonly BenchBackend[];
  /** `--only` as given, for the record. */
  only: string[] | null;
  /** Backends that must be measured cleanly (no skip, no failed run), else the run exits 1: CI's smoke pass. */
  required: readonly BenchBackend[];
  /** Measured latency rounds for node-hello; the other scenarios take half. */
  runs: number;
  warmupRuns: number;
  /** Executions per concurrency level of the throughput phase. */
  throughputCounts: ReadonlyMap<number, number>;
  memoryExecutions: number;
  /** Pool size of every `pooled` executor (and of the memory phase). */
  poolSize: number;
  image: string;
  /** Longest wait for a quiet machine before a sample. */
  quietMaxWaitMs: number;
  resultsPath: string;
  chartPath: string;
  /** The doc whose results section a real run (default paths) rewrites; null for quick or custom runs. */
  docsPath: string | null;
}

export const USAGE = `usage: pnpm bench [--quick] [--only spawn,docker,k8s] [--require spawn,docker] [--runs N]
                  [--warmup N] [--memory-executions N] [--image NAME] [--out FILE] [--chart FILE]

  --quick                smoke pass (CI): few runs, every code path; writes
                         bench/results.quick.json and bench/bench.quick.svg
  --only LIST            backends to measure (default: all of ${BENCH_BACKENDS.join(', ')})
  --require LIST         exit 1 unless these backends ran every mode and scenario with no
                         skip and no failed run (CI: the smoke pass must really run them)
  --runs N               measured latency runs of console.log(1) per participant (default 30;
                         the other scenarios take half of it, k8s a third of that)
  --warmup N             warm-up runs excluded from the figures (default 3)
  --memory-executions N  executions of the host-memory run (default 1000)
  --image NAME           runtime image for docker and the docker baselines
                         (default CORDON_DOCKER_IMAGE or ${defaultRuntimeImage()})
  --out FILE             results JSON (default bench/results.json; a run with the
                         default also rewrites the results section of docs/benchmarks.md)
  --chart FILE           SVG chart (default docs/bench.svg)
  Relative paths are relative to the current directory.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function backendList(flag: string, value: string): BenchBackend[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(BENCH_BACKENDS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0)
    throw new UsageError(
      `--${flag} takes a comma-separated list of ${BENCH_BACKENDS.join(', ')} (got ${JSON.stringify(value)})`,
    );
  return names as BenchBackend[];
}

function positiveInteger(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new UsageError(`--${flag} must be an integer ≥ ${min} (got ${JSON.stringify(value)})`);
  return number;
}

export function parseSettings(argv: readonly string[]): BenchSettings | 'help' {
  // `pnpm bench -- --quick` passes the `--` through; it means nothing here.
  const args = argv.filter((arg) => arg !== '--');
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        require: { type: 'string' },
        runs: { type: 'string' },
        warmup: { type: 'string' },
        'memory-executions': { type: 'string' },
        image: { type: 'string' },
        out: { type: 'string' },
        chart: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const quick = values.quick;

  let backends: BenchBackend[] = [...BENCH_BACKENDS];
  const only = values.only === undefined ? null : backendList('only', values.only);
  if (only) backends = BENCH_BACKENDS.filter((name) => only.includes(name));
  const required = values.require === undefined ? [] : backendList('require', values.require);
  const unmeasured = required.filter((name) => !backends.includes(name));
  if (unmeasured.length > 0) throw new UsageError(`--require names ${unmeasured.join(', ')}, which --only leaves out`);

  const fromCwd = (path: string) => (isAbsolute(path) ? path : resolve(process.cwd(), path));
  return {
    quick,
    backends,
    only,
    required,
    runs: positiveInteger('runs', values.runs, quick ? 3 : 30),
    warmupRuns: positiveInteger('warmup', values.warmup, quick ? 1 : 3, 0),
    throughputCounts: new Map(
      quick
        ? [
            [1, 3],
            [4, 4],
            [8, 8],
          ]
        : [
            [1, 16],
            [4, 32],
            [8, 48],
          ],
    ),
    memoryExecutions: positiveInteger('memory-executions', values['memory-executions'], quick ? 16 : 1000),
    poolSize: 8,
    image: values.image ?? process.env.CORDON_DOCKER_IMAGE ?? defaultRuntimeImage(),
    // Quick still waits a little, so CI exercises the quiet-wait path.
    quietMaxWaitMs: quick ? 200 : 2_000,
    resultsPath: values.out ? fromCwd(values.out) : join(benchDir, quick ? 'results.quick.json' : 'results.json'),
    chartPath: values.chart
      ? fromCwd(values.chart)
      : quick
        ? join(benchDir, 'bench.quick.svg')
        : join(repoRoot, 'docs', 'bench.svg'),
    docsPath: quick || values.out !== undefined ? null : join(repoRoot, 'docs', 'benchmarks.md'),
  };
}
