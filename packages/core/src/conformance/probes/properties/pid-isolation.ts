import { setTimeout as sleep } from 'node:timers/promises';
import { bashProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';

export const pidIsolation: PropertyProbe = {
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
