import { describe, expect, it } from 'vitest';
import { hostBaseline } from '../src/host-baselines.js';
import { SCENARIO_LIST } from '../src/scenarios.js';

describe('scenarios', () => {
  // The expected output is computed in-process; a drift between it and the program would fail every run.
  it.each(SCENARIO_LIST.map((scenario) => [scenario.name, scenario] as const))(
    '%s prints what the harness expects on the bare host',
    async (_name, scenario) => {
      const sample = await hostBaseline(scenario.hostBaseline as 'host-node' | 'host-python' | 'host-bash').runOnce(
        scenario,
      );
      expect(sample.problem).toBeUndefined();
      expect(sample.ok).toBe(true);
      expect(sample.ms).toBeGreaterThan(0);
    },
  );

  it('counts wrong output as a failed sample', async () => {
    const wrong = { ...SCENARIO_LIST[0]!, code: 'console.log(2)' };
    const sample = await hostBaseline('host-node').runOnce(wrong);
    expect(sample.ok).toBe(false);
    expect(sample.problem).toContain('unexpected stdout');
  });

  it('runs baselines in a bare environment, not the harness own (NODE_EXTRA_CA_CERTS, NODE_OPTIONS)', async () => {
    process.env.NODE_EXTRA_CA_CERTS = '/nonexistent/ca.pem';
    process.env.NODE_OPTIONS = '--max-old-space-size=64';
    try {
      const probe = {
        ...SCENARIO_LIST[0]!,
        code: 'console.log(process.env.NODE_EXTRA_CA_CERTS === undefined && process.env.NODE_OPTIONS === undefined ? 1 : 2)',
      };
      const sample = await hostBaseline('host-node').runOnce(probe);
      expect(sample.problem).toBeUndefined();
    } finally {
      delete process.env.NODE_EXTRA_CA_CERTS;
      delete process.env.NODE_OPTIONS;
    }
  });
});
