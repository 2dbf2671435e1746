import type { PropertyOutcome, PropertyProbe } from './probe.js';

export const exitCodes: PropertyProbe = {
  id: 'exit-code',
  title: 'exit 3 is reported as exit code 3',
  language: 'bash',
  yields: ['signal:SIGKILL', 'signal:SIGTERM'],
  async check(context) {
    const exit = await context.run('sandbox', { language: 'bash', code: 'exit 3' });
    const outcomes: PropertyOutcome[] = [
      {
        observation: {
          holds: exit.record.exitCode === 3 && exit.record.status === 'error' && exit.record.signal === null,
          reason: `status ${exit.record.status}, exit code ${exit.record.exitCode}, signal ${exit.record.signal}`,
          ...(exit.record.error ? { error: exit.record.error } : {}),
        },
        probe: exit.record,
      },
    ];
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const run = await context.run('sandbox', {
        language: 'bash',
        code: `kill -${signal.slice(3)} $$; sleep 5; exit 0`,
      });
      outcomes.push({
        id: `signal:${signal}`,
        title: `a self-${signal} is reported as a signal`,
        observation: {
          holds: run.record.signal === signal && run.record.exitCode === null && run.record.status === 'error',
          reason: `status ${run.record.status}, exit code ${run.record.exitCode}, signal ${run.record.signal}`,
          ...(run.record.error ? { error: run.record.error } : {}),
        },
        probe: run.record,
      });
    }
    return outcomes;
  },
};
