import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunOutput, SuiteContext } from '../../context.js';
import { runHostPair, type HostPair } from '../../shared-controls.js';
import type { Executor } from '../../../executor.js';
import { parseProbeOutput } from '../output.js';
import { pythonProbe } from '../prelude.js';
import { skippedOutcome, type PropertyOutcome, type PropertyProbe } from './probe.js';
import type { ExecutionRequest } from '../../../request.js';
import { debug } from '../../../backend/debug.js';

const ID = 'shared-resources';
/** The per-process open-file limit a sandbox may have at most (RLIMIT_NOFILE, after raising soft to hard). */
export const OPEN_FILES_BOUND = 4_096;
/** Sandbox A's children, each opening files up to the limit (or the cap): enough to show the limit binds, few enough that a host without one survives. */
const OPEN_FILES_CHILDREN = 16;
/** Past the bound, a child stops here: it has shown the limit is too high, and an unisolated host stays far from fs.file-max. */
const OPEN_FILES_CHILD_CAP = OPEN_FILES_BOUND + 904;
/** Files sandbox B opens while A holds. */
const OPEN_FILES_B = 256;
/** Each per-user resource A takes at most (far above the kernel defaults: 128 inotify instances, ~9 default queues, 64 1-MiB pipes, RLIMIT_SIGPENDING). */
const PER_USER_CAPS = { inotify: 8_192, mqueue: 256, pipes: 1_024, rtsignals: 1_048_576 } as const;
/** A holds what it took this long at most; the suite stops it as soon as B is done. */
const HOLD_SECONDS = 20;
/** How long A may take to take everything. */
const TAKE_TIMEOUT_MS = 20_000;

/** How many terminals A opens at most: what the host leaves to non-initial devpts instances (pty.max - pty.reserve), so the host's own instance keeps its reserve. */
function ptyCap(): number {
  const read = (name: string, fallback: number) => {
    try {
      return Number(readFileSync(`/proc/sys/kernel/pty/${name}`, 'utf8').trim());
    } catch (error) {
      debug('conformance.probe', () => `read /proc/sys/kernel/pty/${name}`, error);
      return fallback;
    }
  };
  return Math.max(1, read('max', 4096) - read('reserve', 1024));
}

const HOLD = `import time
print('CORDON-FACT holding=1', flush=True)
time.sleep(${HOLD_SECONDS})`;

/**
 * Python: `count` forked children each open with `open` until it fails or `capEach`
 * are held, report `<held> <stop>` on a pipe and keep them HOLD_SECONDS; leaves
 * `reports` ([[held, stop]]). A failed fork ends the forking, named in `A.fork`.
 */
function holdingChildren(params: { count: number; capEach: number; open: string }): string {
  return `ready_r, ready_w = os.pipe()
children = 0
for _ in range(${params.count}):
    try:
        pid = os.fork()
    except OSError as e:
        print('CORDON-FACT A.fork=' + err_code(e), flush=True)
        break
    if pid == 0:
        os.close(ready_r)
        held, stop = [], 'cap'
        while len(held) < ${params.capEach}:
            try:
                held.append(${params.open})
            except OSError as e:
                stop = err_code(e)
                break
        os.write(ready_w, ('%d %s\\n' % (len(held), stop)).encode())
        time.sleep(${HOLD_SECONDS})
        os._exit(0)
    children += 1
os.close(ready_w)
reports = []
with os.fdopen(ready_r) as f:
    while len(reports) < children:
        line = f.readline()
        if not line:
            break
        reports.append(line.split())`;
}

// --- open files ---------------------------------------------------------------

const openFilesA = `import resource, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
except (ValueError, OSError):
    pass
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
print('CORDON-FACT A.nofile=%d/%d' % (soft, hard), flush=True)
${holdingChildren({ count: OPEN_FILES_CHILDREN, capEach: OPEN_FILES_CHILD_CAP, open: "os.open('/dev/null', os.O_RDONLY)" })}
print('CORDON-FACT A.children=%d' % len(reports), flush=True)
print('CORDON-FACT A.held=%d' % sum(int(n) for n, _ in reports), flush=True)
print('CORDON-FACT A.least=%d' % min([int(n) for n, _ in reports] or [0]), flush=True)
print('CORDON-FACT A.stops=' + ','.join(sorted(set(stop for _, stop in reports))), flush=True)
${HOLD}`;

const openFilesB = `held, stop = [], 'none'
for _ in range(${OPEN_FILES_B}):
    try:
        held.append(os.open('/dev/null', os.O_RDONLY))
    except OSError as e:
        stop = err_code(e)
        break
print('CORDON-FACT B.opened=%d' % len(held), flush=True)
print('CORDON-FACT B.stop=' + stop, flush=True)`;

// --- per-user kernel limits -----------------------------------------------------

/** One way to take one unit of each per-user resource, shared by A (until it fails) and B (once). */
const PER_USER_TAKES = `import ctypes, ctypes.util, fcntl, signal
libc = ctypes.CDLL(None, use_errno=True)
kept = []
def fail(what):
    raise OSError(ctypes.get_errno(), what)
def inotify(i):
    fd = libc.inotify_init1(0o2000000)
    if fd < 0:
        fail('inotify_init1')
    kept.append(fd)
mq_open = getattr(libc, 'mq_open', None) or getattr(ctypes.CDLL(ctypes.util.find_library('rt') or 'librt.so.1', use_errno=True), 'mq_open', None)
def mqueue(i):
    # Default attributes: each queue charges ~80 KiB to the user's RLIMIT_MSGQUEUE; unlinked at once, held by its descriptor.
    name = ('/cordon-%s-%s-%d' % (NONCE, ROLE, i)).encode()
    mq_open.restype, mq_open.argtypes = ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    fd = mq_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, None)
    if fd < 0:
        fail('mq_open')
    libc.mq_unlink(name)
    kept.append(fd)
def pipes(i):
    # F_SETPIPE_SZ to 1 MiB charges 256 pages to the user; past pipe-user-pages-soft it fails.
    r, w = os.pipe()
    kept.extend((r, w))
    fcntl.fcntl(w, 1031, 1 << 20)
libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
def rtsignals(i):
    # A queued, blocked realtime signal counts against the user's RLIMIT_SIGPENDING until delivered.
    if libc.sigqueue(os.getpid(), signal.SIGRTMIN, None) != 0:
        fail('sigqueue')
TAKES = [('inotify', inotify), ('mqueue', mqueue), ('pipes', pipes), ('rtsignals', rtsignals)]
`;

const perUserA = `ROLE = 'a'
${PER_USER_TAKES}CAPS = ${JSON.stringify(PER_USER_CAPS)}
for name, take in TAKES:
    got, stop = 0, 'cap'
    while got < CAPS[name]:
        try:
            take(got)
        except OSError as e:
            stop = err_code(e)
            break
        except Exception as e:
            stop = type(e).__name__
            break
        got += 1
    print('CORDON-FACT A.%s=%d %s' % (name, got, stop), flush=True)
${HOLD}`;

const perUserB = `ROLE = 'b'
${PER_USER_TAKES}for name, take in TAKES:
    try:
        take(0)
        print('CORDON-FACT B.%s=ok' % name, flush=True)
    except OSError as e:
        print('CORDON-FACT B.%s=%s' % (name, err_code(e)), flush=True)
    except Exception as e:
        print('CORDON-FACT B.%s=%s' % (name, type(e).__name__), flush=True)`;

// --- pseudo-terminals -----------------------------------------------------------

const PTY_CHILDREN = 4;

const ptysA = (cap: number) => `import time
${holdingChildren({ count: PTY_CHILDREN, capEach: Math.ceil(cap / PTY_CHILDREN), open: "os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)" })}
print('CORDON-FACT A.ptys=%d %s' % (sum(int(n) for n, _ in reports), ','.join(sorted(set(stop for _, stop in reports)))), flush=True)
${HOLD}`;

const ptysB = `try:
    os.close(os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY))
    print('CORDON-FACT B.pty=ok', flush=True)
except OSError as e:
    print('CORDON-FACT B.pty=' + err_code(e), flush=True)`;

// --- running two sandboxes at once ----------------------------------------------

interface SandboxPair {
  readonly facts: Record<string, string>;
  readonly a: RunOutput;
  readonly b: RunOutput | undefined;
  /** Why the pair proves nothing (A never held, or was gone before B ran), else undefined. */
  readonly problem: string | undefined;
}

type Runner = (request: Omit<ExecutionRequest, 'network'>, nonce: string) => Promise<RunOutput>;

/**
 * Starts sandbox A, waits until it says it holds everything (its output is
 * streamed), runs sandbox B, then stops A.
 */
async function sandboxPair(context: SuiteContext, runner: Runner, a: string, b: string): Promise<SandboxPair> {
  const controller = new AbortController();
  let streamed = '';
  let holding: (value: boolean) => void = () => undefined;
  const held = new Promise<boolean>((resolve) => (holding = resolve));
  const aNonce = context.nonce();
  const aRun = runner(
    {
      language: 'python',
      code: pythonProbe(context.endpoints, aNonce, a),
      timeoutMs: TAKE_TIMEOUT_MS + HOLD_SECONDS * 1000,
      signal: controller.signal,
      onStdout: (chunk) => {
        streamed += chunk;
        if (streamed.includes('CORDON-FACT holding=1')) holding(true);
      },
    },
    aNonce,
  );
  let aEnded = false;
  void aRun.then(() => {
    aEnded = true;
    holding(false);
  });
  const wasHolding = await Promise.race([held, sleep(TAKE_TIMEOUT_MS).then(() => false)]);
  let bRun: RunOutput | undefined;
  let endedBeforeB = false;
  if (wasHolding) {
    const bNonce = context.nonce();
    bRun = await runner(
      { language: 'python', code: pythonProbe(context.endpoints, bNonce, b), timeoutMs: 15_000 },
      bNonce,
    );
    endedBeforeB = aEnded;
  }
  controller.abort();
  const aOut = await aRun;
  const facts = { ...parseProbeOutput(aOut.result?.stdout ?? streamed).facts, ...(bRun?.output.facts ?? {}) };
  const problem = !wasHolding
    ? `sandbox A never said it held everything (status ${aOut.record.status}${aOut.record.error ? `: ${aOut.record.error}` : ''}${aOut.record.stderrTail ? `, stderr: ${aOut.record.stderrTail}` : ''})`
    : endedBeforeB
      ? 'sandbox A was gone before B ran: the executor ran them one after the other, so nothing was shared'
      : bRun?.record.error !== undefined
        ? `sandbox B could not run: ${bRun.record.error}`
        : undefined;
  return { facts, a: aOut, b: bRun, problem };
}

/** The same pair where tenants do share: the adapter's shared-uid executor, else two host processes (see `runHostPair`). */
async function sharedPair(
  context: SuiteContext,
  kind: 'shared-uid' | 'shared-ptys',
  a: string,
  b: string,
): Promise<{ facts: Record<string, string>; how: string } | { unavailable: string }> {
  const shared: Executor | undefined = context.adapter.sharedUserControl;
  if (kind === 'shared-uid' && shared) {
    const pair = await sandboxPair(context, (request, nonce) => context.runOn(shared, request, nonce), a, b);
    return pair.problem
      ? { unavailable: `on adapter.sharedUserControl: ${pair.problem}` }
      : { facts: pair.facts, how: 'two sandboxes of adapter.sharedUserControl' };
  }
  const pair: HostPair | { unavailable: string } = await runHostPair(
    kind,
    pythonProbe(context.endpoints, context.nonce(), a),
    pythonProbe(context.endpoints, context.nonce(), b),
  );
  return pair;
}

// --- the checks -------------------------------------------------------------------

const RESOURCES = ['inotify', 'mqueue', 'pipes', 'rtsignals'] as const;

/** `<count> <stop>` as A reports a resource. */
function taken(facts: Record<string, string>, key: string): { count: number; stop: string } | undefined {
  const [count, stop = '?'] = (facts[key] ?? '').split(' ');
  return count === undefined || count === '' ? undefined : { count: Number(count), stop };
}

async function openFiles(context: SuiteContext): Promise<PropertyOutcome> {
  const pair = await sandboxPair(
    context,
    (request, nonce) => context.run('sandbox', request, nonce),
    openFilesA,
    openFilesB,
  );
  const [soft = NaN, hard = NaN] = (pair.facts['A.nofile'] ?? '').split('/').map(Number);
  const limit = Math.max(soft, hard);
  const opened = Number(pair.facts['B.opened'] ?? NaN);
  const children = Number(pair.facts['A.children'] ?? 0);
  const least = Number(pair.facts['A.least'] ?? 0);
  const problems = [
    ...(limit > OPEN_FILES_BOUND ? [`RLIMIT_NOFILE is ${soft}/${hard} per process (bound ${OPEN_FILES_BOUND})`] : []),
    ...(opened < OPEN_FILES_B
      ? [`sandbox B opened only ${opened} of ${OPEN_FILES_B} files (${pair.facts['B.stop'] ?? '?'})`]
      : []),
  ];
  // Not vacuous: every child held as many files as its limit lets it (or the cap).
  const reachable = Math.min(limit, OPEN_FILES_CHILD_CAP) - 16;
  return {
    id: `${ID}:open-files`,
    title: `open-file limit ≤ ${OPEN_FILES_BOUND} per process; another sandbox still opens files while one holds all it can (${OPEN_FILES_CHILDREN} children)`,
    observation: {
      holds: problems.length === 0,
      reason: `${problems.length > 0 ? `${problems.join('; ')}; ` : ''}A: RLIMIT_NOFILE ${pair.facts['A.nofile'] ?? '?'}, ${children} children held ${pair.facts['A.held'] ?? '?'} files (stopped by ${pair.facts['A.stops'] ?? '?'}); B opened ${Number.isNaN(opened) ? '?' : opened}`,
      controlOk: children === OPEN_FILES_CHILDREN && least >= reachable,
      controlReason: `A's children did not all hold what their limit allows (${children} children, the least held ${least}, expected ≥ ${reachable})`,
      ...(pair.problem ? { error: pair.problem } : {}),
    },
    // B is what is judged; A's record when B never ran (its stderr says why).
    probe: (pair.b ?? pair.a).record,
  };
}

async function perUser(context: SuiteContext): Promise<PropertyOutcome> {
  const pair = await sandboxPair(
    context,
    (request, nonce) => context.run('sandbox', request, nonce),
    perUserA,
    perUserB,
  );
  const lines: string[] = [];
  const starved: string[] = [];
  for (const name of RESOURCES) {
    const a = taken(pair.facts, `A.${name}`);
    const b = pair.facts[`B.${name}`] ?? '?';
    // A resource A could not take at all does not exist here: nothing to share.
    if (a && a.count === 0) {
      lines.push(`${name}: unavailable (${a.stop})`);
      continue;
    }
    lines.push(`${name}: A held ${a?.count ?? '?'} (${a?.stop ?? '?'}), B ${b}`);
    if (b !== 'ok') starved.push(name);
  }
  const control = await sharedPair(context, 'shared-uid', perUserA, perUserB);
  const shown =
    'unavailable' in control
      ? []
      : RESOURCES.filter(
          (name) =>
            (taken(control.facts, `A.${name}`)?.stop ?? 'cap') !== 'cap' &&
            (control.facts[`B.${name}`] ?? 'ok') !== 'ok',
        );
  const exhausted =
    'unavailable' in control
      ? []
      : RESOURCES.filter((name) => (taken(control.facts, `A.${name}`)?.stop ?? 'cap') !== 'cap');
  return {
    id: `${ID}:per-user`,
    title:
      'per-user kernel limits (inotify instances, POSIX message queue bytes, pipe buffer pages, queued realtime signals) exhausted by one sandbox leave another its share',
    observation: {
      holds: starved.length === 0,
      reason: `${starved.length > 0 ? `sandbox B was starved of ${starved.join(', ')} while A held them; ` : ''}${lines.join('; ')}`,
      controlOk: !('unavailable' in control) && shown.length > 0 && shown.length === exhausted.length,
      controlReason:
        'unavailable' in control
          ? `NO SHARED-UID CONTROL: ${control.unavailable}; give the adapter a sharedUserControl`
          : `the shared-uid pair (${control.how}) did not show starvation: B starved of ${shown.join(', ') || 'nothing'} of the ${exhausted.join(', ') || 'no'} resources A exhausted`,
      ...(pair.problem ? { error: pair.problem } : {}),
    },
    // B is what is judged; A's record when B never ran (its stderr says why).
    probe: (pair.b ?? pair.a).record,
  };
}

async function ptys(context: SuiteContext): Promise<PropertyOutcome> {
  const title =
    'pseudo-terminals a sandbox exhausts leave another sandbox as many as before (its devpts is its own, bounded)';
  const baselineNonce = context.nonce();
  const baseline = await context.run(
    'sandbox',
    { language: 'python', code: pythonProbe(context.endpoints, baselineNonce, ptysB) },
    baselineNonce,
  );
  const alone = baseline.output.facts['B.pty'];
  if (alone === undefined) {
    return {
      id: `${ID}:ptys`,
      title,
      observation: {
        holds: false,
        reason: '',
        error: `B alone did not report (status ${baseline.record.status}${baseline.record.error ? `: ${baseline.record.error}` : ''})`,
      },
      probe: baseline.record,
    };
  }
  if (alone !== 'ok') {
    return {
      id: `${ID}:ptys`,
      title,
      observation: {
        holds: true,
        reason: '',
        notApplicable: `no pseudo-terminal in a sandbox even alone (${alone}): nothing to share`,
      },
      probe: baseline.record,
    };
  }
  const cap = ptyCap();
  const pair = await sandboxPair(
    context,
    (request, nonce) => context.run('sandbox', request, nonce),
    ptysA(cap),
    ptysB,
  );
  const withA = pair.facts['B.pty'] ?? '?';
  const control = await sharedPair(context, 'shared-ptys', ptysA(cap), ptysB);
  return {
    id: `${ID}:ptys`,
    title,
    observation: {
      holds: withA === alone,
      reason: `${withA !== alone ? 'sandbox B got no pseudo-terminal while A held them; ' : ''}A opened ${pair.facts['A.ptys'] ?? '?'} (cap ${cap}); B alone: ${alone}, B with A: ${withA}`,
      controlOk: !('unavailable' in control) && control.facts['B.pty'] !== undefined && control.facts['B.pty'] !== 'ok',
      controlReason:
        'unavailable' in control
          ? `NO PTY CONTROL: ${control.unavailable}`
          : `the shared pair (${control.how}) did not show starvation: A opened ${control.facts['A.ptys'] ?? '?'}, B ${control.facts['B.pty'] ?? '?'}`,
      ...(pair.problem ? { error: pair.problem } : {}),
    },
    // B is what is judged; A's record when B never ran (its stderr says why).
    probe: (pair.b ?? pair.a).record,
  };
}

const CHECKS: ReadonlyArray<[string, (context: SuiteContext) => Promise<PropertyOutcome>]> = [
  [`${ID}:open-files`, openFiles],
  [`${ID}:per-user`, perUser],
  [`${ID}:ptys`, ptys],
];

/**
 * Shared resources: two sandboxes at once, A exhausting what tenants of one
 * kernel share (open files, per-user limits, pseudo-terminals) while B must
 * still get its share. The positive control runs the same pair where tenants
 * do share (one uid, one devpts) and must show starvation.
 */
export const sharedResources: PropertyProbe = {
  id: `${ID}:open-files`,
  title: `open-file limit ≤ ${OPEN_FILES_BOUND} per process; another sandbox still opens files while one holds all it can`,
  language: 'python',
  yields: CHECKS.slice(1).map(([id]) => id),
  async check(context) {
    const outcomes: PropertyOutcome[] = [];
    for (const [id, check] of CHECKS)
      outcomes.push(skippedOutcome(context, sharedResources, id) ?? (await check(context)));
    return outcomes;
  },
};
