// The original design's DockerExecutor demo, as its users wrote it, with only the
// import changed to '@cordon/backend-docker'. It never calls close(): the original
// has none, so its callers end when their work is done, and so must this.
// DEMO_IMAGE picks the image (the original's `image` option), e.g. one of your own.
import { DockerExecutor } from '@cordon/backend-docker';

const executor = new DockerExecutor({
  ...(process.env.DEMO_IMAGE ? { image: process.env.DEMO_IMAGE } : {}),
  networkMode: 'none',
  timeout: 10_000,
});

const cases = [
  [
    'ordinary code',
    `const data = [3, 1, 2].sort(); console.log(JSON.stringify({ sorted: data, sum: data.reduce((a, b) => a + b) }));`,
  ],
  [
    'Node https.request',
    `require('node:https').get('https://api.example.test/v1/charges', (r) => console.log('status', r.statusCode)).on('error', (e) => console.log('blocked:', e.code));`,
  ],
  [
    'Python via child_process.exec',
    `require('node:child_process').exec('python3 -c "import urllib.request; urllib.request.urlopen(\\'https://api.example.test\\', timeout=5)"', (error, stdout, stderr) => console.log(error ? 'blocked: ' + (stderr.trim().split('\\n').pop() || error.message) : 'reached'));`,
  ],
  [
    'curl',
    `require('node:child_process').exec('curl -sS --max-time 5 https://api.example.test', (error, stdout, stderr) => console.log(error ? 'blocked: ' + (stderr.trim() || error.message) : 'reached'));`,
  ],
  [
    'Stripe SDK',
    `const Stripe = require('stripe'); new Stripe(process.env.STRIPE_SECRET_KEY, { host: 'api.example.test', maxNetworkRetries: 0, timeout: 5000 }).customers.create({ description: 'demo' }).then(() => console.log('reached'), (e) => console.log('blocked:', e.type || e.message));`,
  ],
];

for (const [title, code] of cases) {
  const result = await executor.executeCode(code, { STRIPE_SECRET_KEY: 'sk_test_demo' });
  console.log(
    `${title.padEnd(30)} success=${String(result.success).padEnd(5)} exit=${result.exitCode} ${result.executionTime} ms`,
  );
  console.log(`  ${(result.output || result.error).trim().split('\n')[0]}`);
}
console.log('done');
