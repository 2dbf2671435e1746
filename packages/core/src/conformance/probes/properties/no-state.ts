import { homedir } from 'node:os';
import { join } from 'node:path';
import { bashProbe } from '../prelude.js';
import { unusable, type PropertyOutcome, type PropertyProbe } from './probe.js';

export const noState: PropertyProbe = {
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
        // The background process outlives any suite run (the suite reaps it by nonce at its end), so a
        // backend that lets it escape shows in the leftovers check however long the suite takes.
        code: `M='${marker}'; echo x > /tmp/$M; echo x > "$HOME/.$M"; echo x > "./$M"; (exec -a "$M" sleep 3600) </dev/null >/dev/null 2>&1 & echo started`,
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
