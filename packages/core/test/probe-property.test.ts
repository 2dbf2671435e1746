import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../src/conformance/context.js';
import { runPropertyProbe, skippedOutcome, type PropertyProbe } from '../src/conformance/probes/properties/probe.js';

/** Just what `runPropertyProbe` reads from a suite context. */
function context(
  notApplicable: Record<string, string> = {},
  wanted: (id: string) => boolean = () => true,
): SuiteContext {
  return {
    offers: () => true,
    declaredNotApplicable: (id: string) => notApplicable[id] ?? notApplicable[id.split(':')[0] ?? id],
    wants: (id: string) => wanted(id),
  } as unknown as SuiteContext;
}

const twoResults = (ran: string[]): PropertyProbe => ({
  id: 'thing:a',
  title: 'a thing',
  language: 'bash',
  yields: ['thing:b'],
  check(suite) {
    return Promise.resolve(
      ['thing:a', 'thing:b'].map((id) => {
        const skipped = skippedOutcome(suite, twoResults(ran), id);
        if (skipped) return skipped;
        ran.push(id);
        return {
          id,
          observation: {
            holds: false,
            reason: 'broken',
            controlOk: id === 'thing:a',
            controlReason: 'the control broke',
          },
        };
      }),
    );
  },
});

describe('runPropertyProbe', () => {
  it('reports a failing property and, on its own, whether its control worked', async () => {
    const results = await runPropertyProbe(context(), twoResults([]));
    expect(results.map((r) => [r.id, r.verdict, r.controlOk])).toEqual([
      ['thing:a', 'FAILS', true],
      ['thing:b', 'FAILS', false],
    ]);
    expect(results[1]?.detail).toBe('broken; the positive control did not work either: the control broke');
  });

  it('does not run what the backend declares not applicable, by id or by group', async () => {
    const ran: string[] = [];
    const byId = await runPropertyProbe(context({ 'thing:b': 'no b here' }), twoResults(ran));
    expect(ran).toEqual(['thing:a']);
    expect(byId[1]).toMatchObject({
      id: 'thing:b',
      verdict: 'not-applicable',
      detail: 'declared by the backend: no b here',
    });
    expect(byId[1]?.controlOk).toBeUndefined();

    const none: string[] = [];
    const byGroup = await runPropertyProbe(context({ thing: 'no things here' }), twoResults(none));
    expect(none).toEqual([]);
    expect(byGroup.map((r) => r.verdict)).toEqual(['not-applicable', 'not-applicable']);
  });

  it('skips the runs of results that were not asked for', async () => {
    const ran: string[] = [];
    await runPropertyProbe(
      context({}, (id) => id === 'thing:b'),
      twoResults(ran),
    );
    expect(ran).toEqual(['thing:b']);
  });
});
