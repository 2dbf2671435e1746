import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nodeProbe, pythonProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';
import { fakeKey, reversed } from './support.js';
import { debug } from '../../../backend/debug.js';

export const hostFiles: PropertyProbe = {
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

function sha256File(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch (error) {
    debug('conformance.probe', () => `hash ${path}`, error);
    return undefined;
  }
}
