// Load and latency check on a real cluster (KUBECONFIG): N executions at concurrency C
// through the pool, zero failures expected and nothing of this session left after
// close(); then warm-pod and cold-pod `console.log(1)` latency, p50 and p90.
// Usage: node scripts/measure.mjs [--runs 100] [--concurrency 4] [--samples 15]
import { LABELS, OWNER_ID } from '@cordon/core/backend';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { K8sExecutor } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
    samples: { type: 'string', default: '15' },
    namespace: { type: 'string', default: 'cordon-measure' },
  },
});
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const samples = Number(values.samples);
const base = { namespace: values.namespace, controlNamespace: `${values.namespace}-control` };

const percentile = (list, p) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const round = (ms) => Math.round(ms);

// 1. Load: runs executions at the given concurrency, languages mixed, pool of 2 per runner.
{
  const executor = K8sExecutor.create({ ...base, poolSize: 2, maxConcurrency: concurrency });
  await executor.ready();
  await executor.settled();
  const languages = [
    ['node', 'console.log(6 * 7)'],
    ['python', 'print(6 * 7)'],
    ['bash', 'echo $((6 * 7))'],
  ];
  let next = 0;
  let failures = 0;
  const problems = [];
  const durations = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const index = next++;
        const [language, code] = languages[index % languages.length];
        const t = performance.now();
        try {
          const result = await executor.execute({ language, code });
          durations.push(performance.now() - t);
          if (result.status !== 'ok' || result.stdout !== '42\n') {
            failures++;
            problems.push(
              `${index} ${language}: ${result.status} ${JSON.stringify(result.stdout)} ${result.stderr.slice(0, 200)}`,
            );
          }
        } catch (error) {
          failures++;
          problems.push(`${index} ${language}: threw ${error.message}`);
        }
      }
    }),
  );
  const wallMs = performance.now() - started;
  await executor.close();
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  const left = [];
  for (const namespace of [base.namespace, base.controlNamespace]) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `${LABELS.owner}=${OWNER_ID}` });
    left.push(...pods.items.map((pod) => `${namespace}/${pod.metadata.name}`));
  }
  console.log(
    JSON.stringify({
      phase: 'load',
      runs,
      concurrency,
      failures,
      problems: problems.slice(0, 10),
      wallMs: round(wallMs),
      throughputPerS: +(runs / (wallMs / 1000)).toFixed(2),
      p50Ms: round(percentile(durations, 50)),
      p90Ms: round(percentile(durations, 90)),
      leftAfterClose: left,
    }),
  );
}

// 2. Latency of one console.log(1): warm (pool full before each call) and cold (no pool).
for (const [mode, poolSize] of [
  ['warm', 1],
  ['cold', 0],
]) {
  const executor = K8sExecutor.create({ ...base, poolSize, verifyIsolation: false });
  await executor.ready();
  const times = [];
  for (let i = 0; i < samples + 1; i++) {
    await executor.settled();
    if (mode === 'warm' && executor.warmPods === 0) throw new Error('pool did not fill');
    const t = performance.now();
    const result = await executor.execute({ language: 'node', code: 'console.log(1)' });
    const ms = performance.now() - t;
    if (result.stdout !== '1\n') throw new Error(`unexpected ${JSON.stringify(result)}`);
    if (i > 0) times.push(ms); // the first one warms up connections
  }
  await executor.close();
  console.log(
    JSON.stringify({
      phase: mode,
      samples: times.length,
      p50Ms: round(percentile(times, 50)),
      p90Ms: round(percentile(times, 90)),
      minMs: round(Math.min(...times)),
    }),
  );
}
