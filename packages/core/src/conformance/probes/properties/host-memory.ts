import type { RunOutput, SuiteContext } from '../../context.js';
import { withRssPeak } from '../../rss.js';
import { CordonError } from '../../../errors.js';
import { hostPidNamespace, nodeForgeryToolkit, pythonForgeryToolkit } from './forgery.js';
import { nodeProbe, pythonProbe } from '../prelude.js';
import { skippedOutcome, type PropertyOutcome, type PropertyProbe } from './probe.js';
import type { ExecutionRequest } from '../../../request.js';

const ID = 'host-memory';
const MiB = 1024 * 1024;
/** How far above its pre-run resident set this process may go while one sandbox floods it; a correct backend stays far below. */
export const HOST_RSS_BOUND_MIB = 256;
/** A fake trailer body, never closed. */
const TRAILER_MIB = 512;
/** Short lines on stdout meanwhile. */
const LINES_MIB = 128;
/** Output without a newline, far past the output limit. */
const OUTPUT_MIB = 1024;
const MANY_FILES = 1_500;
const DEEP_LEVELS = 100;
const SPARSE_FILES = 2;
const SPARSE_MIB = 512;
/** Each flood ends in seconds on a working backend; past this the host is stuck, not flooded. */
const FLOOD_TIMEOUT_MS = 30_000;

type Runtime = 'python' | 'node';

interface Flood {
  readonly id: string;
  readonly title: string;
  code(context: SuiteContext, language: Runtime, nonce: string): string;
  readonly request?: Partial<ExecutionRequest>;
  /** The run did produce the volume (the probe is not vacuous), or why not. */
  produced(run: RunOutput): string | undefined;
}

const VOLUME_FILE = 'volume.txt';

/** The volume file the program writes once it has written everything (when the host still collects). */
function volumeWritten(run: RunOutput): string | undefined {
  const file = run.result?.files.find((candidate) => candidate.path === VOLUME_FILE);
  return file ? Buffer.from(file.content).toString('utf8') : undefined;
}

const FLOODS: readonly Flood[] = [
  {
    id: `${ID}:trailer`,
    title: `host RSS stays within +${HOST_RSS_BOUND_MIB} MiB while a sandbox sends an unclosed ${TRAILER_MIB} MiB in-band frame (\\0cordon:<every nonce candidate>:...) and ${LINES_MIB} MiB of lines`,
    request: { collectFiles: [VOLUME_FILE] },
    code: (context, language, nonce) =>
      language === 'python'
        ? pythonProbe(
            context.endpoints,
            nonce,
            `${pythonForgeryToolkit(hostPidNamespace())}pids = guarded('/proc', targets) or []
guarded('own env', hunt_env)
guarded('read /proc/<pid>/cmdline', hunt_proc, pids)
guarded('sys._getframe chain', hunt_frames)
guarded('read /proc/<pid>/mem', hunt_memory, ['self'] + [str(pid) for pid in pids], 32 << 20)
report_routes()
# A bare marker with a little, then one per candidate with its share of the body; the last is never closed.
frames = [(b'\\0cordon:', 16 if CANDIDATES else ${TRAILER_MIB})] + [(b'\\0cordon:' + c.encode() + b':', max(1, (${TRAILER_MIB} - 16) // len(CANDIDATES))) for c in CANDIDATES]
body = b'A' * (1 << 20)
written = 0
for marker, mib in frames:
    os.write(2, marker)
    for _ in range(mib):
        written += os.write(2, body)
lines = (b'x' * 127 + b'\\n') * 8192
for _ in range(${LINES_MIB}):
    written += os.write(1, lines)
with open('${VOLUME_FILE}', 'w') as f:
    f.write(str(written))`,
          )
        : nodeProbe(
            context.endpoints,
            nonce,
            `${nodeForgeryToolkit(hostPidNamespace())}const pids = guarded('/proc', targets) || [];
guarded('own env', huntEnv);
guarded('read /proc/<pid>/cmdline', () => huntProc(pids));
guarded('read /proc/<pid>/mem', () => huntMemory(['self', ...pids], 32 << 20));
reportRoutes();
const frames = [['\\0cordon:', CANDIDATES.length ? 16 : ${TRAILER_MIB}], ...CANDIDATES.map((c) => ['\\0cordon:' + c + ':', Math.max(1, Math.floor((${TRAILER_MIB} - 16) / CANDIDATES.length))])];
const body = Buffer.alloc(1 << 20, 'A');
const writeAll = (fd, buffer) => { for (let at = 0; at < buffer.length;) at += fs.writeSync(fd, buffer, at); return buffer.length; };
let written = 0;
for (const [marker, mib] of frames) { writeAll(2, Buffer.from(marker)); for (let i = 0; i < mib; i++) written += writeAll(2, body); }
const lines = Buffer.from(('x'.repeat(127) + '\\n').repeat(8192));
for (let i = 0; i < ${LINES_MIB}; i++) written += writeAll(1, lines);
fs.writeFileSync('${VOLUME_FILE}', String(written));`,
          ),
    produced: (run) => {
      if (run.result && (run.result.stderrTruncated || volumeWritten(run) !== undefined)) return undefined;
      return `neither a truncated stderr nor ${VOLUME_FILE} came back`;
    },
  },
  {
    id: `${ID}:output`,
    title: `host RSS stays within +${HOST_RSS_BOUND_MIB} MiB while a sandbox writes ${OUTPUT_MIB} MiB without a newline past limits.outputBytes`,
    code: (context, language, nonce) =>
      language === 'python'
        ? pythonProbe(
            context.endpoints,
            nonce,
            `chunk = b'y' * (1 << 20)
for _ in range(${OUTPUT_MIB}):
    os.write(1, chunk)`,
          )
        : nodeProbe(
            context.endpoints,
            nonce,
            `const fs = $r('node:fs'); const chunk = Buffer.alloc(1 << 20, 'y');
for (let i = 0; i < ${OUTPUT_MIB}; i++) for (let at = 0; at < chunk.length;) at += fs.writeSync(1, chunk, at);`,
          ),
    produced: (run) =>
      run.result?.stdoutTruncated ? undefined : 'stdout was not truncated: the output did not arrive',
  },
  {
    id: `${ID}:files`,
    title: `host RSS stays within +${HOST_RSS_BOUND_MIB} MiB while collectFiles ['**'] meets ${MANY_FILES} files, ${DEEP_LEVELS} directory levels and ${SPARSE_FILES} sparse files of ${SPARSE_MIB} MiB`,
    request: { collectFiles: ['**'] },
    code: (context, language, nonce) =>
      language === 'python'
        ? pythonProbe(
            context.endpoints,
            nonce,
            `os.mkdir('many')
for i in range(${MANY_FILES}):
    with open('many/f%04d' % i, 'wb') as f:
        f.write(b'z' * 1024)
deep = '/'.join(['d'] * ${DEEP_LEVELS})
os.makedirs(deep)
with open(deep + '/bottom.txt', 'w') as f:
    f.write('bottom')
for i in range(${SPARSE_FILES}):
    with open('sparse%d.bin' % i, 'wb') as f:
        f.truncate(${SPARSE_MIB} << 20)
print('CORDON-FACT made=%d files' % (${MANY_FILES} + 1 + ${SPARSE_FILES}), flush=True)`,
          )
        : nodeProbe(
            context.endpoints,
            nonce,
            `const fs = $r('node:fs');
fs.mkdirSync('many');
for (let i = 0; i < ${MANY_FILES}; i++) fs.writeFileSync('many/f' + String(i).padStart(4, '0'), Buffer.alloc(1024, 'z'));
const deep = Array(${DEEP_LEVELS}).fill('d').join('/');
fs.mkdirSync(deep, { recursive: true }); fs.writeFileSync(deep + '/bottom.txt', 'bottom');
for (let i = 0; i < ${SPARSE_FILES}; i++) { const fd = fs.openSync('sparse' + i + '.bin', 'w'); fs.ftruncateSync(fd, ${SPARSE_MIB} * 1024 * 1024); fs.closeSync(fd); }
process.stdout.write('CORDON-FACT made=' + (${MANY_FILES} + 1 + ${SPARSE_FILES}) + ' files\\n');`,
          ),
    produced: (run) => {
      if (!run.result) return undefined;
      return run.result.filesTruncated || run.result.warnings.some((warning) => /left out|dropped/.test(warning))
        ? undefined
        : `the collection was neither truncated nor named left-out files (${run.result.files.length} files came back)`;
    },
  },
];

/**
 * Host memory: one sandbox floods what the host reads back (an endless in-band
 * frame, output, collected files) while this process's resident set is
 * sampled. It holds when the peak stays within `HOST_RSS_BOUND_MIB` of the
 * pre-run baseline and the run ended with a result or a typed `CordonError`.
 * The control is that the volume did arrive (truncation flags, left-out files).
 */
export const hostMemory: PropertyProbe = {
  id: `${ID}:trailer`,
  title: FLOODS[0]?.title ?? '',
  language: 'python',
  fallbacks: ['node'],
  yields: FLOODS.slice(1).map((flood) => flood.id),
  async check(context, language) {
    const runtime: Runtime = language === 'node' ? 'node' : 'python';
    const outcomes: PropertyOutcome[] = [];
    for (const flood of FLOODS) {
      outcomes.push(skippedOutcome(context, hostMemory, flood.id) ?? (await checkFlood(context, flood, runtime)));
    }
    return outcomes;
  },
};

async function checkFlood(context: SuiteContext, flood: Flood, language: Runtime): Promise<PropertyOutcome> {
  const nonce = context.nonce();
  const {
    value: run,
    baselineBytes,
    peakBytes,
  } = await withRssPeak(() =>
    context.run(
      'sandbox',
      {
        language,
        code: flood.code(context, language, nonce),
        timeoutMs: FLOOD_TIMEOUT_MS,
        ...flood.request,
      },
      nonce,
    ),
  );
  const grewMiB = (peakBytes - baselineBytes) / MiB;
  const typedError = run.thrown instanceof CordonError;
  const crashed = run.result === undefined && !typedError;
  const problems = [
    ...(grewMiB > HOST_RSS_BOUND_MIB
      ? [`host RSS grew by ${grewMiB.toFixed(0)} MiB (bound ${HOST_RSS_BOUND_MIB})`]
      : []),
    ...(crashed ? [`the run ended with neither a result nor a typed error: ${run.record.error ?? '?'}`] : []),
  ];
  const ended = run.result
    ? `status ${run.result.status}, stdout/stderr truncated ${run.result.stdoutTruncated}/${run.result.stderrTruncated}, ${run.result.files.length} files`
    : `${run.thrown instanceof Error ? run.thrown.name : 'error'}: ${run.record.error ?? '?'}`;
  const notProduced = flood.produced(run);
  const routes = Object.entries(run.output.facts)
    .filter(([key]) => key === 'route.nonce candidates')
    .map(([, value]) => `; nonce candidates: ${value}`)
    .join('');
  return {
    id: flood.id,
    language,
    title: flood.title,
    observation: {
      holds: problems.length === 0,
      reason: `${problems.length > 0 ? `${problems.join('; ')}; ` : ''}host RSS ${mib(baselineBytes)} MiB before, peak ${mib(peakBytes)} MiB; ${ended}${routes}`,
      controlOk: notProduced === undefined || typedError,
      controlReason: notProduced ?? '',
    },
    probe: run.record,
  };
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}
