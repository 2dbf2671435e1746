import type { SuiteContext } from '../../context.js';
import { bashProbe, nodeProbe, pythonProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';
import { reversed } from './support.js';

export const envSecrets = (language: 'node' | 'python' | 'bash'): PropertyProbe => ({
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

function shortList(list: string, max = 6): string {
  const items = list.split(',');
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}
