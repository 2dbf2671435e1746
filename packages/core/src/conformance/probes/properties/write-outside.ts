import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { nodeProbe, pythonProbe } from '../prelude.js';
import { unusable, type PropertyOutcome, type PropertyProbe } from './probe.js';

export const writeOutside: PropertyProbe = {
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
