// Quick sanity measurement (not the official benchmark): p50 of a cold spawn-backend
// `console.log(1)` vs a bare host `node -e 'console.log(1)'`, interleaved, same process.
// Also the pool (poolSize 2), waiting for the refill between runs (latency with a ready sandbox).
// Usage: node scripts/measure-cold-start.mjs [iterations]
import { spawn } from 'node:child_process';
import { SpawnExecutor } from '../dist/index.js';

const iterations = Number(process.argv[2] ?? 30);
const executor = await SpawnExecutor.create({});
const pooledExecutor = await SpawnExecutor.create({ poolSize: 2 });

// The host env may carry NODE_EXTRA_CA_CERTS and the like, which slow node's start; the
// sandbox starts with a clean env, so report both baselines.
function bare(env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', 'console.log(1)'], { stdio: ['ignore', 'pipe', 'inherit'], env });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function time(fn) {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const p50 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const host = [];
const hostCleanEnv = [];
const sandbox = [];
const pooled = [];
for (let i = 0; i < 3; i++) {
  await bare();
  await executor.execute({ language: 'node', code: 'console.log(1)' });
}
for (let i = 0; i < iterations; i++) {
  host.push(await time(() => bare()));
  hostCleanEnv.push(await time(() => bare({ PATH: '/usr/bin:/bin' })));
  sandbox.push(
    await time(async () => {
      const result = await executor.execute({ language: 'node', code: 'console.log(1)' });
      if (result.stdout !== '1\n') throw new Error(`unexpected result ${JSON.stringify(result)}`);
    }),
  );
  await pooledExecutor.settled();
  pooled.push(await time(() => pooledExecutor.execute({ language: 'node', code: 'console.log(1)' })));
}
await executor.close();
await pooledExecutor.close();
console.log(
  JSON.stringify({
    iterations,
    tier: executor.tier,
    hostP50Ms: +p50(host).toFixed(1),
    hostCleanEnvP50Ms: +p50(hostCleanEnv).toFixed(1),
    spawnP50Ms: +p50(sandbox).toFixed(1),
    ratio: +(p50(sandbox) / p50(host)).toFixed(3),
    ratioVsCleanEnv: +(p50(sandbox) / p50(hostCleanEnv)).toFixed(3),
    pooledP50Ms: +p50(pooled).toFixed(1),
    pooledRatio: +(p50(pooled) / p50(host)).toFixed(3),
    pooledRatioVsCleanEnv: +(p50(pooled) / p50(hostCleanEnv)).toFixed(3),
  }),
);
