import { bashProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';

export const identity: PropertyProbe = {
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
