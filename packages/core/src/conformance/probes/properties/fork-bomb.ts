import { setTimeout as sleep } from 'node:timers/promises';
import { findHostProcesses } from '../../host-processes.js';
import { pythonProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';

const FORK_ATTEMPTS = 150;
const FORK_PIDS_LIMIT = 32;

export const forkBomb: PropertyProbe = {
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
