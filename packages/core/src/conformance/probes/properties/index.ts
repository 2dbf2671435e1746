import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SuiteContext } from '../../context.js';
import { findHostProcesses } from '../../host-processes.js';
import { bashProbe, nodeProbe, pythonProbe } from '../prelude.js';
import { unusable, type PropertyOutcome, type PropertyProbe } from './probe.js';
import { resultIntegrity } from './result-integrity.js';
import { collectionConfinement } from './collection-confinement.js';
import { hostMemory } from './host-memory.js';
import { sharedResources } from './shared-resources.js';
import { hostIdentifiers } from './host-identifiers.js';

const MiB = 1024 * 1024;

// Probe code carries secrets reversed, so the secret never appears in its own command line.
const reversed = (text: string) => [...text].reverse().join('');

const envSecrets = (language: 'node' | 'python' | 'bash'): PropertyProbe => ({
  id: `env-secrets:${language}`,
  title: 'host env secret not in env, /proc/{self,1,ppid,*}/environ or cmdline',
  language,
  async check(context) {
    const code = envSecretCode(context, language);
    const control = await context.run('control', {
      language,
      code,
      env: { [context.secret.name]: context.secret.value },
    });
    const probe = await context.run('sandbox', { language, code });
    const error = unusable(probe, 'found');
    const found = probe.output.facts.found ?? '';
    const controlFound = control.output.facts.found ?? '';
    return [
      {
        observation: {
          holds: found === 'nowhere',
          reason:
            found === 'nowhere'
              ? `not visible (${probe.output.facts.envCount ?? '?'} variables in env)`
              : `the planted secret is visible in: ${shortList(found)}`,
          controlOk: controlFound.split(',').includes('env'),
          controlReason: `passed explicitly in env, the control found it in: ${controlFound || 'nothing'}`,
          ...(error ? { error } : {}),
        },
        probe: probe.record,
        control: control.record,
      },
    ];
  },
});

function envSecretCode(context: SuiteContext, language: 'node' | 'python' | 'bash'): string {
  const secret = reversed(context.secret.value);
  switch (language) {
    case 'node':
      return nodeProbe(
        context.endpoints,
        '',
        `const S = [...${JSON.stringify(secret)}].reverse().join('');
const fs = $r('node:fs'); const found = [];
if (Object.values(process.env).some((v) => String(v).includes(S))) found.push('env');
const pids = new Set(['self', '1', String(process.ppid)]);
try { for (const e of fs.readdirSync('/proc')) if (/^\\d+$/.test(e)) pids.add(e); } catch {}
for (const p of pids) for (const f of ['environ', 'cmdline']) { try { if (fs.readFileSync('/proc/' + p + '/' + f, 'latin1').includes(S)) found.push('/proc/' + p + '/' + f); } catch {} }
process.stdout.write('CORDON-FACT envCount=' + Object.keys(process.env).length + '\\nCORDON-FACT found=' + (found.join(',') || 'nowhere') + '\\n');`,
      );
    case 'python':
      return pythonProbe(
        context.endpoints,
        '',
        `S = ${JSON.stringify(secret)}[::-1]
found = ['env'] if any(S in v for v in os.environ.values()) else []
pids = {'self', '1', str(os.getppid())}
try:
    pids.update(p for p in os.listdir('/proc') if p.isdigit())
except OSError:
    pass
for p in sorted(pids):
    for f in ('environ', 'cmdline'):
        try:
            with open('/proc/%s/%s' % (p, f), 'rb') as fh:
                if S.encode() in fh.read():
                    found.append('/proc/%s/%s' % (p, f))
        except OSError:
            pass
print('CORDON-FACT envCount=%d' % len(os.environ))
print('CORDON-FACT found=' + (','.join(found) or 'nowhere'))`,
      );
    case 'bash':
      // Without tr/wc the scan would silently see nothing: require them (missing ⇒ invalid).
      return bashProbe(
        context.endpoints,
        '',
        ['tr', 'wc'],
        `R='${secret}'; S=''
for ((i=\${#R}-1; i>=0; i--)); do S+="\${R:i:1}"; done
found=()
[[ "$(declare -px)" == *"$S"* ]] && found+=(env)
for p in self 1 "$PPID" /proc/[0-9]*; do
  p=\${p#/proc/}
  for f in environ cmdline; do
    [ -r "/proc/$p/$f" ] || continue
    content=$(tr '\\0' ' ' < "/proc/$p/$f" 2>/dev/null) || continue
    [[ "$content" == *"$S"* ]] && found+=("/proc/$p/$f")
  done
done
echo "CORDON-FACT envCount=$(compgen -e | wc -l)"
list=$(IFS=,; echo "\${found[*]}")
echo "CORDON-FACT found=\${list:-nowhere}"`,
      );
  }
}

const hostFiles: PropertyProbe = {
  id: 'host-files',
  title: 'planted host files (~/.../id_rsa, $TMPDIR/.../id_rsa) and /etc/shadow not readable',
  language: 'python',
  fallbacks: ['node'],
  async check(context, language) {
    const secret = JSON.stringify(reversed(context.secret.value));
    const code = (paths: readonly string[]) =>
      language === 'node'
        ? nodeProbe(
            context.endpoints,
            '',
            `const S = [...${secret}].reverse().join(''); const fs = $r('node:fs'); const found = [];
for (const path of ${JSON.stringify(paths)}) { try { if (fs.readFileSync(path, 'latin1').includes(S)) found.push(path); } catch (e) { emit({ step: 'read ' + path, ok: false, code: errCode(e) }); } }
try { process.stdout.write('CORDON-FACT shadow=' + $r('node:crypto').createHash('sha256').update(fs.readFileSync('/etc/shadow')).digest('hex') + '\\n'); } catch (e) { emit({ step: 'read /etc/shadow', ok: false, code: errCode(e) }); }
process.stdout.write('CORDON-FACT found=' + (found.join(',') || 'nowhere') + '\\n');`,
          )
        : pythonProbe(
            context.endpoints,
            '',
            `import hashlib
S = ${secret}[::-1]
found = []
for path in ${JSON.stringify(paths)}:
    try:
        with open(path, 'rb') as f:
            if S.encode() in f.read():
                found.append(path)
    except OSError as e:
        emit(step='read ' + path, ok=False, code=err_code(e))
try:
    with open('/etc/shadow', 'rb') as f:
        print('CORDON-FACT shadow=' + hashlib.sha256(f.read()).hexdigest(), flush=True)
except OSError as e:
    emit(step='read /etc/shadow', ok=False, code=err_code(e))
print('CORDON-FACT found=' + (','.join(found) or 'nowhere'), flush=True)`,
          );
    const control = await context.run('control', {
      language,
      code: code(['id_rsa']),
      files: { id_rsa: fakeKey(context.secret.value) },
    });
    const probe = await context.run('sandbox', { language, code: code(context.secret.keyFiles) });
    const found = probe.output.facts.found ?? '';
    const hostShadow = sha256File('/etc/shadow');
    const shadowLeak = hostShadow !== undefined && probe.output.facts.shadow === hostShadow;
    const problems = [
      ...(found !== 'nowhere' ? [`read ${found}`] : []),
      ...(shadowLeak ? ["read the host's /etc/shadow"] : []),
    ];
    const error = unusable(probe, 'found');
    return [
      {
        observation: {
          holds: problems.length === 0,
          reason:
            problems.length > 0
              ? problems.join('; ')
              : `not readable (${probe.output.steps.join('; ') || 'no errors reported'})${probe.output.facts.shadow && !shadowLeak ? "; an /etc/shadow was readable but it is not the host's" : ''}`,
          controlOk: (control.output.facts.found ?? '').includes('id_rsa'),
          controlReason: `reading ./id_rsa passed in files gave: ${control.output.facts.found ?? control.record.stderrTail ?? 'nothing'}`,
          ...(error ? { error } : {}),
        },
        probe: probe.record,
        control: control.record,
      },
    ];
  },
};

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function shortList(list: string, max = 6): string {
  const items = list.split(',');
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

export function fakeKey(secret: string): string {
  return `-----BEGIN OPENSSH PRIVATE KEY-----\ncordon-conformance-canary ${secret}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function sha256File(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

const writeOutside: PropertyProbe = {
  id: 'write-outside',
  title: 'writes outside the working directory fail and leave nothing on the host',
  language: 'python',
  fallbacks: ['node'],
  yields: ['rootfs-readonly'],
  async check(context, language) {
    const nonce = context.nonce();
    const hostTargets = [
      ...context.secret.keyFiles.map((key) => join(dirname(key), `written-${nonce}`)),
      join(homedir(), `.cordon-written-${nonce}`),
    ];
    const rootTargets = [`/etc/cordon-written-${nonce}`, `/usr/cordon-written-${nonce}`, `/cordon-written-${nonce}`];
    for (const path of [...hostTargets, ...rootTargets]) context.hostPathsToRemove.add(path);
    const targets = JSON.stringify([...hostTargets, ...rootTargets]);
    const code =
      language === 'node'
        ? nodeProbe(
            context.endpoints,
            nonce,
            `const fs = $r('node:fs');
const write = (name, path) => { try { fs.writeFileSync(path, 'cordon ' + NONCE); emit({ step: name, ok: true }); } catch (e) { emit({ step: name, ok: false, code: errCode(e) }); } };
write('write ./inside', 'cordon-inside-' + NONCE);
for (const path of ${targets}) write('write ' + path, path);`,
          )
        : pythonProbe(
            context.endpoints,
            nonce,
            `def write(path):
    with open(path, 'w') as f:
        f.write('cordon ' + NONCE)
step('write ./inside', lambda: write('cordon-inside-' + NONCE))
for path in ${targets}:
    step('write ' + path, lambda path=path: write(path))`,
          );
    const probe = await context.run('sandbox', { language, code }, nonce);
    const error = unusable(probe);
    const onHost = [...hostTargets, ...rootTargets].filter((path) => existsSync(path));
    const insideOk = probe.output.steps.some((step) => step.startsWith('write ./inside: ok'));
    const rootWrites = rootTargets.filter((path) => probe.output.steps.includes(`write ${path}: ok`));
    const outcomes: PropertyOutcome[] = [
      {
        observation: {
          holds: onHost.length === 0,
          reason:
            onHost.length > 0
              ? `files appeared on the host: ${onHost.join(', ')}`
              : `nothing appeared on the host (${probe.output.steps.filter((step) => !step.includes('./inside')).join('; ')})`,
          controlOk: insideOk,
          controlReason: 'writing into the working directory failed, so the write code proves nothing',
          ...(error ? { error } : {}),
        },
        probe: probe.record,
      },
      {
        id: 'rootfs-readonly',
        title: 'root filesystem read-only (/etc, /usr, / not writable)',
        observation: {
          holds: rootWrites.length === 0,
          reason: rootWrites.length > 0 ? `writable inside the sandbox: ${rootWrites.join(', ')}` : 'refused',
          controlOk: insideOk,
          controlReason: 'writing into the working directory failed',
          ...(error ? { error } : {}),
        },
        probe: probe.record,
      },
    ];
    return outcomes;
  },
};

const privateTmp: PropertyProbe = {
  id: 'tmp-private',
  title: 'a private, writable /tmp',
  language: 'bash',
  async check(context) {
    const nonce = context.nonce();
    const path = `/tmp/cordon-tmp-${nonce}`;
    context.hostPathsToRemove.add(path);
    const probe = await context.run(
      'sandbox',
      {
        language: 'bash',
        code: bashProbe(context.endpoints, nonce, [], `step 'write /tmp' bash -c "echo cordon > ${path}"`),
      },
      nonce,
    );
    const wrote = probe.output.steps.includes('write /tmp: ok');
    const onHost = existsSync(path);
    return [
      {
        observation: {
          holds: wrote && !onHost,
          reason: onHost
            ? `${path} appeared in the host's /tmp`
            : wrote
              ? 'writable, and not the host /tmp'
              : `/tmp is not writable (${probe.output.steps.join('; ')})`,
          ...(unusable(probe) ? { error: unusable(probe) } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const identity: PropertyProbe = {
  id: 'privileges',
  title: 'no capabilities (CapEff 0) and NoNewPrivs 1; uid and seccomp reported',
  language: 'bash',
  async check(context) {
    const probe = await context.run('sandbox', {
      language: 'bash',
      // gVisor's /proc/self/status has no NoNewPrivs line; ask the kernel (prctl PR_GET_NO_NEW_PRIVS = 39) instead.
      code: bashProbe(
        context.endpoints,
        '',
        [],
        `nnp=; while read -r key value; do case "$key" in Uid:|CapEff:|NoNewPrivs:|Seccomp:) echo "CORDON-FACT \${key%:}=$value"; [ "$key" = NoNewPrivs: ] && nnp=1;; esac; done < /proc/self/status
if [ -z "$nnp" ]; then v=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))' 2>/dev/null) && echo "CORDON-FACT NoNewPrivs=$v" && echo "CORDON-FACT NoNewPrivsSource=prctl"; fi`,
      ),
    });
    const facts = probe.output.facts;
    const capEff = facts.CapEff ?? '?';
    const noNewPrivs = facts.NoNewPrivs ?? '?';
    const uid = (facts.Uid ?? '?').split(/\s+/)[0] ?? '?';
    const seccomp =
      ({ '0': 'off', '1': 'strict', '2': 'filter' } as Record<string, string>)[facts.Seccomp ?? ''] ??
      facts.Seccomp ??
      '?';
    const holds = /^0+$/.test(capEff) && noNewPrivs === '1';
    return [
      {
        observation: {
          holds,
          reason: `uid ${uid}${uid === '0' ? ' (root)' : ''}, CapEff ${capEff}, NoNewPrivs ${noNewPrivs}${facts.NoNewPrivsSource ? ` (from ${facts.NoNewPrivsSource})` : ''}, seccomp ${seccomp}`,
          ...(unusable(probe, 'CapEff') ? { error: unusable(probe, 'CapEff') } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const pidIsolation: PropertyProbe = {
  id: 'pid-isolation',
  title: 'a host process cannot be seen or signalled',
  language: 'bash',
  async check(context) {
    const hostProcess = context.canaries.hostProcess;
    if (!hostProcess) throw new Error('the host process canary is not running');
    const before = hostProcess.signalsReceived;
    const pid = context.endpoints.hostPid;
    const marker = context.secret.marker;
    const probe = await context.run('sandbox', {
      language: 'bash',
      code: bashProbe(
        context.endpoints,
        '',
        ['tr', 'ls', 'wc'],
        `P=${pid}
if [ -r /proc/$P/cmdline ] && [[ "$(tr '\\0' ' ' < /proc/$P/cmdline 2>/dev/null)" == *'${marker}'* ]]; then echo 'CORDON-FACT visible=yes'; else echo 'CORDON-FACT visible=no'; fi
echo "CORDON-FACT processes=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)"
step 'kill -USR2 host pid' kill -USR2 $P`,
      ),
    });
    await sleep(300);
    const signalled = hostProcess.signalsReceived - before;
    const visible = probe.output.facts.visible === 'yes';
    return [
      {
        observation: {
          holds: !visible && signalled === 0 && hostProcess.alive,
          reason: [
            visible ? `host pid ${pid} is visible with its command line` : `host pid ${pid} not visible`,
            signalled > 0 || !hostProcess.alive
              ? 'the host process received the signal'
              : `signal refused (${probe.output.steps.join('; ')})`,
            `${probe.output.facts.processes ?? '?'} processes visible inside`,
          ].join('; '),
          ...(unusable(probe, 'visible') ? { error: unusable(probe, 'visible') } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const FORK_ATTEMPTS = 150;
const FORK_PIDS_LIMIT = 32;

const forkBomb: PropertyProbe = {
  id: 'fork-bomb',
  title: `fork bomb stopped by limits.pids=${FORK_PIDS_LIMIT}; host back to baseline`,
  language: 'python',
  async check(context) {
    const nonce = context.nonce();
    const marker = `cordon-fork-${nonce}`;
    // Bounded (not a real bomb) so an unisolated run cannot take the machine down.
    const probe = await context.run(
      'sandbox',
      {
        language: 'python',
        timeoutMs: 15_000,
        limits: { pids: FORK_PIDS_LIMIT },
        code: pythonProbe(
          context.endpoints,
          nonce,
          `import shutil
sleep = shutil.which('sleep')
forked, stopped = 0, 'nothing'
for i in range(${FORK_ATTEMPTS}):
    try:
        pid = os.fork()
    except OSError as e:
        stopped = err_code(e)
        break
    if pid == 0:
        try:
            if sleep:
                os.execv(sleep, ['${marker}', '20'])
        finally:
            os._exit(0)
    forked += 1
print('CORDON-FACT forked=%d' % forked, flush=True)
print('CORDON-FACT stoppedBy=' + stopped, flush=True)`,
        ),
      },
      nonce,
    );
    await sleep(1_000);
    const left = findHostProcesses([marker]);
    const forked = Number(probe.output.facts.forked ?? NaN);
    const stopped = probe.output.facts.stoppedBy ?? '?';
    const contained = stopped !== 'nothing' && forked < FORK_ATTEMPTS;
    const weak = context.weakLimit('pids');
    return [
      {
        observation: {
          holds: contained && left.length === 0,
          reason: `forked ${Number.isNaN(forked) ? '?' : forked} of ${FORK_ATTEMPTS}, stopped by ${stopped}; ${left.length} of its processes left on the host after the run`,
          ...(weak ? { weakEnforcement: weak } : {}),
          ...(unusable(probe, 'forked') ? { error: unusable(probe, 'forked') } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const memoryOom: PropertyProbe = {
  id: 'memory-oom',
  title: 'memory limit (64 MiB) kills an allocation of 512 MiB, reported as oom',
  language: 'python',
  fallbacks: ['node'],
  async check(context, language) {
    const probe = await context.run('sandbox', {
      language,
      timeoutMs: 20_000,
      limits: { memoryBytes: 64 * MiB },
      code:
        language === 'node'
          ? nodeProbe(
              context.endpoints,
              '',
              `const chunks = [];
for (let i = 0; i < 32; i++) chunks.push(Buffer.alloc(16 << 20, 1));
process.stdout.write('CORDON-FACT allocatedMiB=' + chunks.length * 16 + '\\n');`,
            )
          : pythonProbe(
              context.endpoints,
              '',
              `chunks = []
for i in range(32):
    chunks.append(b'\\x01' * (16 << 20))
print('CORDON-FACT allocatedMiB=%d' % (len(chunks) * 16), flush=True)`,
            ),
    });
    const weak = context.weakLimit('memoryBytes');
    const allocated = probe.output.facts.allocatedMiB;
    return [
      {
        observation: {
          holds: probe.record.status === 'oom',
          reason: `status ${probe.record.status}${allocated ? `, allocated ${allocated} MiB` : ''}${probe.record.signal ? `, signal ${probe.record.signal}` : ''}`,
          ...(weak ? { weakEnforcement: weak } : {}),
          ...(probe.record.error ? { error: probe.record.error } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const TREE_TIMEOUT_MS = 1_500;
const TREE_LATE_MS = 3_000;
const PROMPT_SLACK_MS = 3_000;

const timeoutTree: PropertyProbe = {
  id: 'timeout-tree',
  title: 'timeout kills the whole tree (a detached grandchild too) and returns promptly',
  language: 'python',
  fallbacks: ['bash'],
  async check(context, language) {
    const nonce = context.nonce();
    const marker = `cordon-tree-${nonce}`;
    const plantDir = dirname(context.secret.keyFiles[context.secret.keyFiles.length - 1] ?? '/tmp/x');
    const markers = [`/tmp/${marker}`, join(plantDir, marker)];
    for (const path of markers) context.hostPathsToRemove.add(path);
    const late = `sleep ${TREE_LATE_MS / 1000}; ${markers.map((path) => `echo late > ${path}`).join('; ')}`;
    const probe = await context.run(
      'sandbox',
      {
        language,
        timeoutMs: TREE_TIMEOUT_MS,
        code:
          language === 'bash'
            ? `LATE=${shellQuote(late)}
if command -v setsid >/dev/null 2>&1; then setsid bash -c "exec -a ${marker} sh -c '$LATE'" </dev/null >/dev/null 2>&1 &
else (exec -a ${marker} sh -c "$LATE") </dev/null >/dev/null 2>&1 & fi
sleep 60`
            : pythonProbe(
                context.endpoints,
                nonce,
                `import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sh', ['${marker}', '-c', ${JSON.stringify(late)}])
    os._exit(0)
time.sleep(60)`,
              ),
      },
      nonce,
    );
    // Give a surviving grandchild time to do its late write.
    await sleep(TREE_LATE_MS + 700);
    const left = findHostProcesses([marker]);
    const written = markers.filter((path) => existsSync(path));
    const prompt = probe.record.durationMs <= TREE_TIMEOUT_MS + PROMPT_SLACK_MS;
    const problems = [
      ...(probe.record.status !== 'timeout' ? [`status ${probe.record.status}, not timeout`] : []),
      ...(!prompt ? [`returned after ${probe.record.durationMs} ms (timeout ${TREE_TIMEOUT_MS} ms)`] : []),
      ...(left.length > 0 ? [`${left.length} process(es) of the tree still running on the host`] : []),
      ...(written.length > 0 ? [`the grandchild wrote ${written.join(', ')} after the timeout`] : []),
    ];
    return [
      {
        observation: {
          holds: problems.length === 0,
          reason:
            problems.length > 0
              ? problems.join('; ')
              : `timed out after ${probe.record.durationMs} ms; nothing survived`,
          ...(probe.record.error ? { error: probe.record.error } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const OUTPUT_CAP_BYTES = 4096;

const outputCap: PropertyProbe = {
  id: 'output-cap',
  title: `output capped at limits.outputBytes=${OUTPUT_CAP_BYTES} with truncation flags`,
  language: 'bash',
  async check(context) {
    const probe = await context.run('sandbox', {
      language: 'bash',
      limits: { outputBytes: OUTPUT_CAP_BYTES },
      code: `s=$(printf '%*s' 65536 ''); printf '%s' "$s"; printf '%s' "$s" >&2`,
    });
    const result = probe.result;
    const stdoutBytes = result ? Buffer.byteLength(result.stdout) : -1;
    const stderrBytes = result ? Buffer.byteLength(result.stderr) : -1;
    const holds =
      result !== undefined &&
      result.stdoutTruncated &&
      result.stderrTruncated &&
      stdoutBytes <= OUTPUT_CAP_BYTES &&
      stderrBytes <= OUTPUT_CAP_BYTES;
    return [
      {
        observation: {
          holds,
          reason: result
            ? `kept ${stdoutBytes}/${stderrBytes} bytes of 65536, truncated flags ${result.stdoutTruncated}/${result.stderrTruncated}`
            : 'no result',
          ...(probe.record.error ? { error: probe.record.error } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};

const exitCodes: PropertyProbe = {
  id: 'exit-code',
  title: 'exit 3 is reported as exit code 3',
  language: 'bash',
  yields: ['signal:SIGKILL', 'signal:SIGTERM'],
  async check(context) {
    const exit = await context.run('sandbox', { language: 'bash', code: 'exit 3' });
    const outcomes: PropertyOutcome[] = [
      {
        observation: {
          holds: exit.record.exitCode === 3 && exit.record.status === 'error' && exit.record.signal === null,
          reason: `status ${exit.record.status}, exit code ${exit.record.exitCode}, signal ${exit.record.signal}`,
          ...(exit.record.error ? { error: exit.record.error } : {}),
        },
        probe: exit.record,
      },
    ];
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const run = await context.run('sandbox', {
        language: 'bash',
        code: `kill -${signal.slice(3)} $$; sleep 5; exit 0`,
      });
      outcomes.push({
        id: `signal:${signal}`,
        title: `a self-${signal} is reported as a signal`,
        observation: {
          holds: run.record.signal === signal && run.record.exitCode === null && run.record.status === 'error',
          reason: `status ${run.record.status}, exit code ${run.record.exitCode}, signal ${run.record.signal}`,
          ...(run.record.error ? { error: run.record.error } : {}),
        },
        probe: run.record,
      });
    }
    return outcomes;
  },
};

const noState: PropertyProbe = {
  id: 'no-state',
  title: 'nothing carries over to the next execution (/tmp, HOME, workdir, a background process)',
  language: 'bash',
  yields: ['no-state:node-globals'],
  async check(context) {
    const nonce = context.nonce();
    const marker = `cordon-state-${nonce}`;
    context.hostPathsToRemove.add(`/tmp/${marker}`);
    context.hostPathsToRemove.add(join(homedir(), `.${marker}`));
    const first = await context.run(
      'sandbox',
      {
        language: 'bash',
        code: `M='${marker}'; echo x > /tmp/$M; echo x > "$HOME/.$M"; echo x > "./$M"; (exec -a "$M" sleep 30) </dev/null >/dev/null 2>&1 & echo started`,
      },
      nonce,
    );
    const second = await context.run(
      'sandbox',
      {
        language: 'bash',
        code: bashProbe(
          context.endpoints,
          nonce,
          ['tr', 'head'],
          `M='${marker}'; found=()
[ -e "/tmp/$M" ] && found+=(/tmp)
[ -e "$HOME/.$M" ] && found+=(HOME)
[ -e "./$M" ] && found+=(workdir)
for p in /proc/[0-9]*; do
  first=$(tr '\\0' '\\n' < "$p/cmdline" 2>/dev/null | head -n1)
  [ "$first" = "$M" ] && { found+=(process); break; }
done
list=$(IFS=,; echo "\${found[*]}")
echo "CORDON-FACT found=\${list:-nothing}"`,
        ),
      },
      nonce,
    );
    const found = second.output.facts.found ?? '';
    const outcomes: PropertyOutcome[] = [
      {
        observation: {
          holds: found === 'nothing',
          reason:
            found === 'nothing' ? 'the next execution saw nothing of the first' : `the next execution saw: ${found}`,
          controlOk: first.record.status === 'ok',
          controlReason: `the first execution did not complete (${first.record.status})`,
          ...(unusable(second, 'found') ? { error: unusable(second, 'found') } : {}),
        },
        probe: second.record,
        control: first.record,
      },
    ];
    if (!context.offers('node')) {
      outcomes.push({
        id: 'no-state:node-globals',
        language: 'node',
        observation: { holds: true, reason: '', notApplicable: 'the backend does not offer node' },
      });
    } else {
      const setGlobal = await context.run(
        'sandbox',
        {
          language: 'node',
          code: `globalThis.__cordonState = ${JSON.stringify(nonce)}; process.env.CORDON_STATE = ${JSON.stringify(nonce)};`,
        },
        nonce,
      );
      const readGlobal = await context.run(
        'sandbox',
        {
          language: 'node',
          code: `process.stdout.write('CORDON-FACT found=' + ([globalThis.__cordonState !== undefined && 'global', process.env.CORDON_STATE !== undefined && 'env'].filter(Boolean).join(',') || 'nothing') + '\\n');`,
        },
        nonce,
      );
      const seen = readGlobal.output.facts.found ?? '';
      outcomes.push({
        id: 'no-state:node-globals',
        language: 'node',
        title: 'no JS globals or process.env changes carry over to the next node execution',
        observation: {
          holds: seen === 'nothing',
          reason: seen === 'nothing' ? 'fresh runtime' : `the next execution saw: ${seen}`,
          controlOk: setGlobal.record.status === 'ok',
          controlReason: `the first execution did not complete (${setGlobal.record.status})`,
          ...(unusable(readGlobal, 'found') ? { error: unusable(readGlobal, 'found') } : {}),
        },
        probe: readGlobal.record,
        control: setGlobal.record,
      });
    }
    return outcomes;
  },
};

/** Every property check, in report order. `leftovers` is run by the runner itself, last. */
export const PROPERTY_PROBES: readonly PropertyProbe[] = [
  envSecrets('node'),
  envSecrets('python'),
  envSecrets('bash'),
  hostFiles,
  writeOutside,
  privateTmp,
  identity,
  pidIsolation,
  forkBomb,
  memoryOom,
  timeoutTree,
  outputCap,
  exitCodes,
  noState,
  // The result channel and the shared kernel (escape-probes.md "The result channel").
  resultIntegrity('node'),
  resultIntegrity('python'),
  resultIntegrity('bash'),
  collectionConfinement,
  hostMemory,
  sharedResources,
  hostIdentifiers,
];
