import { existsSync } from 'node:fs';
import { bashProbe } from '../prelude.js';
import { unusable, type PropertyProbe } from './probe.js';

export const privateTmp: PropertyProbe = {
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
