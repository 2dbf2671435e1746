// Latency of the docker backend against its two baselines, measured in one process:
//   pooled console.log(1) (pool kept full: calls spaced until it refills) vs spawning bare `node -e`,
//   cold (no pool) vs `docker run --rm --network none <image> node -e 'console.log(1)'`,
//   and sustained back-to-back pooled calls (refills competing with the runs).
// Usage: node scripts/measure-latency.mjs [--runtime runsc] [--samples 20]   (after `pnpm build`)
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { DockerBackendExecutor, DEFAULT_IMAGE } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string' },
    samples: { type: 'string', default: '20' },
    image: { type: 'string', default: DEFAULT_IMAGE },
  },
});
const samples = Number(values.samples);
const runtimeArgs = values.runtime ? ['--runtime', values.runtime] : [];

const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

function timeSpawn(command, args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 && out === '1\n'
        ? resolve(performance.now() - started)
        : reject(new Error(`${command} exited ${code}: ${out}`)),
    );
  });
}

async function series(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) times.push(await fn());
  return times;
}

async function waitForPool(executor, size) {
  while (executor.idleContainerIds().size < size) await new Promise((r) => setTimeout(r, 20));
}

async function timeExecute(executor) {
  const started = performance.now();
  const result = await executor.execute({ language: 'node', code: 'console.log(1)' });
  const ms = performance.now() - started;
  if (result.status !== 'ok' || result.stdout !== '1\n') throw new Error(`bad result ${JSON.stringify(result)}`);
  return ms;
}

const pooled = await DockerBackendExecutor.create({
  poolSize: 2,
  poolLanguages: 'node',
  image: values.image,
  ...(values.runtime ? { runtime: values.runtime } : {}),
});
const cold = await DockerBackendExecutor.create({
  poolSize: 0,
  image: values.image,
  ...(values.runtime ? { runtime: values.runtime } : {}),
});
try {
  await timeSpawn(process.execPath, ['-e', 'console.log(1)']); // warm the page cache
  const bareNode = await series(samples, () => timeSpawn(process.execPath, ['-e', 'console.log(1)']));
  const pool = await series(samples, async () => {
    await waitForPool(pooled, 2);
    return timeExecute(pooled);
  });
  await waitForPool(pooled, 2);
  const sustainedStart = performance.now();
  const sustained = await series(samples, () => timeExecute(pooled));
  const sustainedSeconds = (performance.now() - sustainedStart) / 1000;
  const dockerRun = await series(Math.ceil(samples / 2), () =>
    timeSpawn('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      ...runtimeArgs,
      values.image,
      'node',
      '-e',
      'console.log(1)',
    ]),
  );
  const unpooled = await series(Math.ceil(samples / 2), () => timeExecute(cold));

  const rows = [
    ['bare `node -e` on the host', p50(bareNode)],
    ['pooled console.log(1), full pool', p50(pool)],
    [`sustained pooled, back to back (${(samples / sustainedSeconds).toFixed(1)}/s)`, p50(sustained)],
    [`docker run --rm --network none${values.runtime ? ` --runtime ${values.runtime}` : ''}`, p50(dockerRun)],
    ['unpooled (cold) execution', p50(unpooled)],
  ];
  console.log(
    `runtime ${pooled.facts.runtime}, ${samples} samples (docker run / cold: ${Math.ceil(samples / 2)}), p50:`,
  );
  for (const [name, ms] of rows) console.log(`  ${name.padEnd(52)} ${fmt(ms)}`);
  console.log(`  pooled / bare node: ${(p50(pool) / p50(bareNode)).toFixed(2)}x (target <= 0.5x)`);
  console.log(`  cold / docker run:  ${(p50(unpooled) / p50(dockerRun)).toFixed(2)}x (target <= 0.8x)`);
} finally {
  await pooled.close();
  await cold.close();
}
