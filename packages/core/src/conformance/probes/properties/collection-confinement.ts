import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunOutput, SuiteContext } from '../../context.js';
import { bashCode } from './forgery.js';
import { bashProbe, pythonProbe } from '../prelude.js';
import { skippedOutcome, unusable, type PropertyOutcome, type PropertyProbe } from './probe.js';
import type { Language } from '../../../request.js';

const ID = 'collection-confinement';
const CANARY_FILE = 'canary.txt';
/** Directories the race flips at once: the more, the likelier a host that follows links is caught. */
const RACE_DIRS = 16;
/** How long the flipper flips at most (it stops earlier when its directory is removed). */
const RACE_SECONDS = 8;

/** A host directory readable by any uid, holding a file with a secret no sandbox should ever return. */
interface Canary {
  readonly dir: string;
  readonly secret: string;
}

async function plantCanary(): Promise<Canary> {
  const dir = await mkdtemp(join(tmpdir(), 'cordon-collect-canary-'));
  await chmod(dir, 0o755);
  const secret = `cordon-collect-canary-${randomBytes(12).toString('hex')}`;
  await writeFile(join(dir, CANARY_FILE), `${secret}\n`, { mode: 0o644 });
  return { dir, secret };
}

interface Shape {
  readonly id: string;
  readonly title: string;
  /** Bash, or the race's python flipper when the backend offers python. */
  readonly language: (context: SuiteContext) => Language;
  /** The program that tries to make the host collect the canary. */
  probe(canary: Canary, language: Language): string;
  /** The same shape with honest files of the same names, in every place a host could read from. */
  control(language: Language): string;
  readonly collectFiles: readonly string[];
  /** Paths the control must get back with its honest content. */
  readonly expected: readonly string[];
}

const honest = (nonce: string) => `honest ${nonce}`;

/** Shell code placing honest files; `printf 'honest %s' "$NONCE"`. */
const writeHonest = (path: string) => `printf 'honest %s' "$NONCE" > ${path}`;

// Enough `../` to climb from any working directory to `/`: a relative link a host-side reader resolves against the host.
const CLIMB = '../'.repeat(32);

const SHAPES: readonly Shape[] = [
  {
    id: `${ID}:rename-link`,
    title:
      'collected files come from the working directory as it was, after the program renamed it and linked a host directory in its place',
    language: () => 'bash',
    probe: (canary) => `W=$(pwd -P)
cd / || exit 1
step 'rename the working directory' mv "$W" "$W.moved"
step 'link a host directory in its place' ln -s '${canary.dir}' "$W"
# An honest file of the same name in the directory as it was: a host that reads only there returns that one.
[ -d "$W.moved" ] && ${writeHonest(`"$W.moved/${CANARY_FILE}"`)}`,
    control: () => `W=$(pwd -P)
cd / || exit 1
mv "$W" "$W.moved" 2>/dev/null && mkdir "$W"
${writeHonest(`"$W/${CANARY_FILE}"`)}
[ -d "$W.moved" ] && ${writeHonest(`"$W.moved/${CANARY_FILE}"`)}
:`,
    collectFiles: [CANARY_FILE],
    expected: [CANARY_FILE],
  },
  {
    id: `${ID}:file-links`,
    title:
      'symlinks in the working directory (to the host canary, its directory, /etc, climbing out with ../) are not followed',
    language: () => 'bash',
    probe: (canary) => `step 'link the canary' ln -s '${canary.dir}/${CANARY_FILE}' ${CANARY_FILE}
step 'link its directory' ln -s '${canary.dir}' linkdir
step 'link /etc' ln -s /etc etc
step 'link the canary from a real directory' bash -c "mkdir real && ln -s '${canary.dir}/${CANARY_FILE}' real/nested.txt"
step 'link the canary by climbing out' ln -s '${CLIMB}${canary.dir.replace(/^\//, '')}/${CANARY_FILE}' climb.txt`,
    control: () => `mkdir -p linkdir etc real
for f in ${CANARY_FILE} linkdir/${CANARY_FILE} etc/passwd real/nested.txt climb.txt; do ${writeHonest('"$f"')}; done`,
    collectFiles: [CANARY_FILE, `linkdir/${CANARY_FILE}`, 'etc/passwd', 'etc/hostname', 'real/nested.txt', 'climb.txt'],
    expected: [CANARY_FILE, `linkdir/${CANARY_FILE}`, 'etc/passwd', 'real/nested.txt', 'climb.txt'],
  },
  {
    id: `${ID}:proc-root-links`,
    title: 'links through /proc/{self,thread-self,1,<ppid>}/root to the host canary are not followed',
    language: () => 'bash',
    probe: (canary) =>
      bashCode(`for link in self:self thread-self:thread 1:init "$PPID":parent; do
  p=@{link%%:*}; name=@{link#*:}
  step "link /proc/$p/root to the canary" ln -s "/proc/$p/root${canary.dir}/${CANARY_FILE}" "$name.txt"
  step "link /proc/$p/root to its directory" ln -s "/proc/$p/root${canary.dir}" "@{name}dir"
done`),
    control: () =>
      `for name in self thread init parent; do mkdir -p "$name"dir; ${writeHonest('"$name.txt"')}; ${writeHonest(`"$name"dir/${CANARY_FILE}`)}; done`,
    collectFiles: [
      'self.txt',
      'thread.txt',
      'init.txt',
      'parent.txt',
      `selfdir/${CANARY_FILE}`,
      `threaddir/${CANARY_FILE}`,
      `initdir/${CANARY_FILE}`,
      `parentdir/${CANARY_FILE}`,
    ],
    expected: [
      'self.txt',
      'thread.txt',
      'init.txt',
      'parent.txt',
      `selfdir/${CANARY_FILE}`,
      `threaddir/${CANARY_FILE}`,
      `initdir/${CANARY_FILE}`,
      `parentdir/${CANARY_FILE}`,
    ],
  },
  {
    id: `${ID}:race`,
    title: `a background process flipping ${RACE_DIRS} directories between real ones and links to the host canary while the host collects gets nothing out`,
    language: (context) => (context.offers('python') ? 'python' : 'bash'),
    probe: (canary, language) => (language === 'python' ? racePython(canary) : raceBash(canary)),
    control: (language) =>
      language === 'python'
        ? `for i in range(${RACE_DIRS}):
    os.mkdir('race%d' % i)
    with open('race%d/${CANARY_FILE}' % i, 'w') as f:
        f.write('honest ' + NONCE)`
        : `for i in $(seq 0 ${RACE_DIRS - 1}); do mkdir race$i && ${writeHonest(`race$i/${CANARY_FILE}`)}; done`,
    collectFiles: [`race*/${CANARY_FILE}`],
    expected: Array.from({ length: RACE_DIRS }, (_, i) => `race${i}/${CANARY_FILE}`),
  },
];

/** renameat2(RENAME_EXCHANGE) swaps a real directory and a link in one step, as fast as the kernel allows. */
function racePython(canary: Canary): string {
  return `import ctypes, platform, time
libc = ctypes.CDLL(None, use_errno=True)
RENAMEAT2 = {'x86_64': 316, 'aarch64': 276}.get(platform.machine())
def exchange(a, b):
    if hasattr(libc, 'renameat2'):
        return libc.renameat2(-100, a, -100, b, 2)
    return libc.syscall(RENAMEAT2, -100, a, -100, b, 2) if RENAMEAT2 else -1
def dance(a, b):
    try:
        os.rename(a, b'swap')
        os.rename(b, a)
        os.rename(b'swap', b)
        return 0
    except OSError:
        return -1
for i in range(${RACE_DIRS}):
    os.mkdir('race%d' % i)
    with open('race%d/${CANARY_FILE}' % i, 'w') as f:
        f.write('honest ' + NONCE)
    os.symlink('${canary.dir}', 'alt%d' % i)
flip = exchange if exchange(b'race0', b'alt0') == 0 and exchange(b'race0', b'alt0') == 0 else dance
print('CORDON-FACT flipper=' + ('renameat2 RENAME_EXCHANGE' if flip is exchange else 'rename, rename, rename'), flush=True)
ready_r, ready_w = os.pipe()
if os.fork() == 0:
    os.close(ready_r)
    null = os.open('/dev/null', os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    pairs = [(b'race%d' % i, b'alt%d' % i) for i in range(${RACE_DIRS})]
    deadline, rounds = time.monotonic() + ${RACE_SECONDS}, 0
    while time.monotonic() < deadline:
        for a, b in pairs:
            if flip(a, b) != 0:
                os._exit(0)  # the working directory is gone: the host has finished
        rounds += 1
        if rounds == 50:
            os.write(ready_w, b'x')
            os.close(ready_w)
    os._exit(0)
os.close(ready_w)
os.read(ready_r, 1)
print('CORDON-FACT flipping=yes', flush=True)`;
}

function raceBash(canary: Canary): string {
  return bashCode(`for i in $(seq 0 ${RACE_DIRS - 1}); do mkdir race$i && ${writeHonest(`race$i/${CANARY_FILE}`)}; ln -s '${canary.dir}' alt$i; done
echo 'CORDON-FACT flipper=mv -T, mv -T, mv -T'
(
  exec </dev/null >/dev/null 2>&1
  end=$((SECONDS + ${RACE_SECONDS}))
  while [ $SECONDS -lt $end ]; do
    for i in $(seq 0 ${RACE_DIRS - 1}); do mv -T race$i swap && mv -T alt$i race$i && mv -T swap alt$i || exit 0; done
  done
) &
sleep 0.3
echo 'CORDON-FACT flipping=yes'`);
}

/**
 * Collection confinement: the program renames, links and races its working
 * directory so that a host reading it back would return a canary file planted
 * on the host. It holds when no returned file carries the canary's secret (and
 * nothing comes back through the link to /etc). The control is the same shape
 * with honest files of the same names: collection works here.
 */
export const collectionConfinement: PropertyProbe = {
  id: `${ID}:rename-link`,
  title: SHAPES[0]?.title ?? '',
  language: 'bash',
  yields: SHAPES.slice(1).map((shape) => shape.id),
  async check(context) {
    const outcomes: PropertyOutcome[] = [];
    const canary = await plantCanary();
    try {
      for (const shape of SHAPES) {
        const skipped = skippedOutcome(context, collectionConfinement, shape.id);
        if (skipped) {
          outcomes.push(skipped);
          continue;
        }
        outcomes.push(await checkShape(context, shape, canary));
      }
    } finally {
      await rm(canary.dir, { recursive: true, force: true });
    }
    return outcomes;
  },
};

async function checkShape(context: SuiteContext, shape: Shape, canary: Canary): Promise<PropertyOutcome> {
  const language = shape.language(context);
  const wrap = (body: string, nonce: string) =>
    language === 'python'
      ? pythonProbe(context.endpoints, nonce, body)
      : bashProbe(context.endpoints, nonce, ['mv', 'ln', 'mkdir', 'seq'], body);
  const controlNonce = context.nonce();
  const control = await context.run(
    'sandbox',
    { language, code: wrap(shape.control(language), controlNonce), collectFiles: shape.collectFiles },
    controlNonce,
  );
  const nonce = context.nonce();
  const probe = await context.run(
    'sandbox',
    { language, code: wrap(shape.probe(canary, language), nonce), collectFiles: shape.collectFiles },
    nonce,
  );
  const returned = probe.result?.files ?? [];
  const leaked = returned
    .filter((file) => Buffer.from(file.content).toString('latin1').includes(canary.secret))
    .map((file) => file.path);
  const throughEtc = returned.filter((file) => file.path.startsWith('etc/')).map((file) => file.path);
  const problems = [
    ...(leaked.length > 0 ? [`returned the host canary as ${leaked.join(', ')}`] : []),
    ...(throughEtc.length > 0 ? [`returned host files through the link to /etc: ${throughEtc.join(', ')}`] : []),
  ];
  const missing = missingFrom(control, shape.expected, honest(controlNonce));
  const error = unusable(probe);
  const inside = probe.output.steps.filter((step) => !step.endsWith(': ok'));
  return {
    id: shape.id,
    language,
    title: shape.title,
    observation: {
      holds: problems.length === 0,
      reason:
        problems.length > 0
          ? problems.join('; ')
          : `no canary came back (returned: ${returned.map((file) => file.path).join(', ') || 'nothing'}${inside.length > 0 ? `; inside: ${inside.join('; ')}` : ''}${probe.output.facts.flipper ? `; flipper: ${probe.output.facts.flipper}` : ''})`,
      controlOk: missing.length === 0,
      controlReason: `the honest files of the same names did not all come back: missing ${missing.join(', ')}`,
      ...(error ? { error } : {}),
    },
    probe: probe.record,
    control: control.record,
  };
}

/** Expected paths the run did not return with the honest content. */
function missingFrom(run: RunOutput, expected: readonly string[], content: string): string[] {
  if (!run.result) return [`everything (the run threw: ${run.record.error ?? '?'})`];
  const files = new Map(run.result.files.map((file) => [file.path, Buffer.from(file.content).toString('latin1')]));
  return expected.filter((path) => files.get(path) !== content);
}
