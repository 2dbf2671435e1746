import { nodeProbe, pythonProbe } from '../prelude.js';
import type { PropertyProbe } from './probe.js';

const MiB = 1024 * 1024;

export const memoryOom: PropertyProbe = {
  id: 'memory-oom',
  title: 'memory limit (64 MiB) kills an allocation of 512 MiB, reported as oom',
  language: 'python',
  fallbacks: ['node'],
  async check(context, language) {
    const probe = await context.run('sandbox', {
      language,
      timeoutMs: 20_000,
      limits: { memoryBytes: 64 * MiB },
      code:
        language === 'node'
          ? nodeProbe(
              context.endpoints,
              '',
              `const chunks = [];
for (let i = 0; i < 32; i++) chunks.push(Buffer.alloc(16 << 20, 1));
process.stdout.write('CORDON-FACT allocatedMiB=' + chunks.length * 16 + '\\n');`,
            )
          : pythonProbe(
              context.endpoints,
              '',
              `chunks = []
for i in range(32):
    chunks.append(b'\\x01' * (16 << 20))
print('CORDON-FACT allocatedMiB=%d' % (len(chunks) * 16), flush=True)`,
            ),
    });
    const weak = context.weakLimit('memoryBytes');
    const allocated = probe.output.facts.allocatedMiB;
    return [
      {
        observation: {
          holds: probe.record.status === 'oom',
          reason: `status ${probe.record.status}${allocated ? `, allocated ${allocated} MiB` : ''}${probe.record.signal ? `, signal ${probe.record.signal}` : ''}`,
          ...(weak ? { weakEnforcement: weak } : {}),
          ...(probe.record.error ? { error: probe.record.error } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};
