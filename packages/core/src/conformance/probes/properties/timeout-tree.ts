import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findHostProcesses } from '../../host-processes.js';
import { pythonProbe } from '../prelude.js';
import type { PropertyProbe } from './probe.js';

const TREE_TIMEOUT_MS = 1_500;
const TREE_LATE_MS = 3_000;
const PROMPT_SLACK_MS = 3_000;

export const timeoutTree: PropertyProbe = {
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

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
