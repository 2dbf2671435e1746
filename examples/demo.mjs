// The original design's five cases, each run twice on the default backend: in the
// sandbox (network none) and as its positive control (the same code with the network
// open, pointed at a canary on this machine). A case counts as blocked only when its
// control reached the canary. Then the Stripe SDK under an egress allow-list: allowed
// to api.stripe.com (a stand-in on this machine), denied anywhere else, with the audit
// of both runs. `--json` prints the results for programs.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { backendOptionsFromEnv, CordonError, detectBackend, isWeakEnforcement, loadBackend } from '@cordon/core';
import { startDemoCanary } from './demo-canary.mjs';
import { startStripeCanary } from './demo-stripe-canary.mjs';

const json = process.argv.includes('--json');
const ALLOW_LIST_TITLE = 'Stripe SDK under an allow-list';

const cases = [
  {
    title: 'ordinary code',
    language: 'node',
    code: () =>
      `const data = [3, 1, 2].sort(); console.log(JSON.stringify({ sorted: data, sum: data.reduce((a, b) => a + b) }));`,
    expectsNetwork: false,
  },
  {
    title: 'Node https.request',
    language: 'node',
    code: ({ host, port, nonce }) => `
const https = require('node:https');
const request = https.request({ host: '${host}', port: ${port}, path: '/${nonce}', servername: '${nonce}.canary.test', rejectUnauthorized: false }, (response) => console.log('status', response.statusCode));
request.on('error', (error) => { console.log('error:', error.message); process.exitCode = 1; });
request.end();`,
  },
  {
    title: 'Python via child_process.exec',
    language: 'node',
    code: ({ host, port, nonce }) => `
const { exec } = require('node:child_process');
exec(\`python3 -c "import urllib.request; print(urllib.request.urlopen('http://${host}:${port}/${nonce}', timeout=5).status)"\`, (error, stdout, stderr) => {
  if (error) { console.log('error:', (stderr.trim().split('\\n').pop() || error.message)); process.exitCode = 1; } else console.log('status', stdout.trim());
});`,
  },
  {
    title: 'curl',
    language: 'bash',
    code: ({ host, port, nonce }) => `command -v curl >/dev/null || { echo "error: curl is not installed"; exit 127; }
curl -sS --max-time 5 -o /dev/null -w 'status %{http_code}\\n' http://${host}:${port}/${nonce} 2>&1`,
  },
  {
    title: 'Stripe SDK',
    language: 'node',
    code: ({ host, port, nonce }) => `
const Stripe = require('stripe');
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY, { host: '${host}', port: ${port}, protocol: 'http', maxNetworkRetries: 0, timeout: 5000 });
stripe.customers.create({ description: '${nonce}' })
  .then((customer) => console.log('created', customer.id))
  .catch((error) => { console.log('error:', error.message); process.exitCode = 1; });`,
    env: { STRIPE_SECRET_KEY: 'sk_test_cordon_demo_key' },
  },
];

// The default backend, exactly as createExecutor() would choose it.
const detected =
  process.env.CORDON_BACKEND && process.env.CORDON_BACKEND !== 'auto'
    ? { backend: await loadBackend(process.env.CORDON_BACKEND), reason: 'CORDON_BACKEND' }
    : await detectBackend();
const backend = detected.backend;
const options = { ...backendOptionsFromEnv(backend.name), ...demoOptions(backend.name) };
const executor = await backend.create(options);
const adapter = await backend.conformance(executor, options);
const canary = await startDemoCanary(adapter.canaryNetwork.bindIPv4);
// The demo is about the network, which is never waived. Where this machine can only
// enforce some resource limits weakly (the spawn backend as a non-root user without
// cgroup delegation: memory is an rlimit, CPU unlimited), it says so and accepts them.
const capabilities = executor.capabilities();
const weakLimits = Object.entries(capabilities.limits)
  .filter(([limit, enforcement]) => isWeakEnforcement(limit, enforcement))
  .map(([limit]) => limit);
const host = adapter.canaryNetwork.reachIPv4;

if (!json)
  process.stderr.write(
    `cordon demo on backend "${backend.name}" (${detected.reason}); canary at ${host}:${canary.port}\n${capabilities.notes?.[0] ? `${capabilities.notes[0]}\n` : ''}\n`,
  );
if (weakLimits.length > 0) {
  process.stderr.write(
    `NOTE: here ${weakLimits.map((limit) => `${limit} is enforced as "${capabilities.limits[limit]}"`).join(', ')} only; the demo accepts that (acceptUnenforced: ${JSON.stringify(weakLimits)}). The network stays enforced by the ${capabilities.network === 'kernel' ? 'kernel' : capabilities.network} layer. Run as root, or with the docker backend, for full limits.\n\n`,
  );
}
const rows = [];
let allowList;
try {
  for (const [index, demoCase] of cases.entries()) {
    if (!json) process.stderr.write(`[${index + 1}/${cases.length + 1}] ${demoCase.title}...\n`);
    const nonce = canary.newNonce();
    const request = {
      language: demoCase.language,
      code: demoCase.code({ host, port: canary.port, nonce }),
      env: demoCase.env ?? {},
      timeoutMs: 20_000,
      ...(weakLimits.length > 0 ? { acceptUnenforced: weakLimits } : {}),
    };
    const sandbox = await executor.execute({ ...request, network: 'none' });
    const sandboxReached = canary.saw(nonce);
    const control = await (adapter.control
      ? adapter.control(request)
      : executor.execute({ ...request, network: 'open' }));
    await canary.settle();
    const controlReached = canary.saw(nonce);
    rows.push({
      case: demoCase.title,
      sandbox: { status: sandbox.status, output: firstLine(sandbox), reachedCanary: sandboxReached },
      control: { status: control.status, output: firstLine(control), reachedCanary: controlReached },
      verdict: verdictFor(demoCase, sandbox, control, sandboxReached, controlReached),
    });
  }
  if (!json) process.stderr.write(`[${cases.length + 1}/${cases.length + 1}] ${ALLOW_LIST_TITLE}...\n`);
  try {
    allowList = await runAllowListCase({
      executor,
      capabilities,
      backend: backend.name,
      weakLimits,
      newNonce: canary.newNonce,
    });
  } catch (error) {
    // A backend that claims enforcement and then refuses the request fails this case, not the five above.
    if (!(error instanceof CordonError)) throw error;
    allowList = { error: error.message };
  }
} catch (error) {
  // Fail closed is the product working: say why nothing ran and how to get isolation.
  if (!(error instanceof CordonError)) throw error;
  process.stderr.write(`\ncordon demo: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  await canary.close();
  await executor.close();
}
if (process.exitCode === 1) process.exit(1);

if (json) {
  process.stdout.write(
    `${JSON.stringify({ backend: backend.name, acceptedUnenforced: weakLimits, results: rows, allowList }, null, 2)}\n`,
  );
} else {
  printTable(rows);
  printAllowList(allowList);
}
const allowListOk =
  allowList.skipped !== undefined ||
  (allowList.results !== undefined && allowList.results.every((result) => result.verdict === result.expected));
process.exit(rows.every((row) => row.verdict === 'blocked' || row.verdict === 'runs') && allowListOk ? 0 : 1);

/**
 * The Stripe SDK under `network: { mode: 'allow', allow: ['api.stripe.com'] }`: the same
 * code once toward api.stripe.com (allowed) and once toward evil.example (denied). The
 * test-only `resolve` override sends both names to a Stripe stand-in on this machine's
 * loopback, so the only thing keeping the second run from it is the allow-list (and the
 * stand-in seeing its nonce would be a leak). Backends without allow-list enforcement
 * (capabilities().egress absent) refuse such a request; the case is skipped there.
 */
async function runAllowListCase({ executor, capabilities, backend, weakLimits, newNonce }) {
  if (!capabilities.egress)
    return { skipped: `${backend} does not enforce egress allow-lists (capabilities().egress absent)` };
  const stripeCanary = await startStripeCanary();
  const address = `127.0.0.1:${stripeCanary.port}`;
  const network = {
    mode: 'allow',
    allow: ['api.stripe.com'],
    // Test only and exhaustive: no real resolver is asked, and only these addresses pass the deny set.
    resolve: { 'api.stripe.com': address, 'evil.example': address },
  };
  const results = [];
  try {
    for (const { target, expected } of [
      { target: 'api.stripe.com', expected: 'allowed' },
      { target: 'evil.example', expected: 'denied' },
    ]) {
      const nonce = newNonce();
      const result = await executor.execute({
        language: 'node',
        code: stripeBalanceCode({ host: target, nonce }),
        env: { STRIPE_SECRET_KEY: 'sk_test_cordon_demo_key' },
        timeoutMs: 20_000,
        network,
        ...(weakLimits.length > 0 ? { acceptUnenforced: weakLimits } : {}),
      });
      await stripeCanary.settle();
      const reachedCanary = stripeCanary.saw(nonce);
      const egress = result.egress ?? { records: [], dropped: 0 };
      results.push({
        target,
        expected,
        status: result.status,
        output: firstLine(result),
        reachedCanary,
        egress,
        verdict: allowListVerdict({ target, expected, result, reachedCanary, records: egress.records }),
      });
    }
  } finally {
    await stripeCanary.close();
  }
  return { policy: { mode: network.mode, allow: network.allow }, standIn: address, results };
}

// Plain HTTP to port 80 (a bare name allows 443 and 80): the broker relays the bytes and
// needs no CA inside the sandbox. HTTPS through it passes TLS untouched to the real host;
// terminating TLS (to add a credential on the way out) is issue 16.
function stripeBalanceCode({ host, nonce }) {
  return `
const Stripe = require('stripe');
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY, { host: '${host}', port: 80, protocol: 'http', maxNetworkRetries: 0, timeout: 5000 });
// The nonce rides in a header, so the stand-in can tell whether this run reached it.
stripe.balance.retrieve({}, { stripeAccount: 'acct_${nonce}' })
  .then((balance) => console.log('balance', balance.available.map((part) => part.amount + ' ' + part.currency).join(', ')))
  .catch((error) => {
    const cause = error.detail && (error.detail.code || error.detail.message);
    console.log('error:', error.message + (cause ? ' (' + cause + ')' : ''));
    process.exitCode = 1;
  });`;
}

function allowListVerdict({ target, expected, result, reachedCanary, records }) {
  const named = records.filter((record) => record.host === target || record.sni === target);
  if (expected === 'allowed') {
    if (result.status !== 'ok' || !reachedCanary) return 'FAILED (the allowed call did not get through)';
    // The DNS answer alone is not the call: a connection to the name must be in the audit.
    const connection = named.find((record) => record.path !== 'dns' && record.verdict === 'allowed');
    return connection ? 'allowed' : 'FAILED (no allowed connection in the audit)';
  }
  if (reachedCanary) return 'LEAK';
  if (result.status === 'ok') return 'FAILED (the call seemed to succeed)';
  return named.some((record) => record.verdict === 'denied') ? 'denied' : 'FAILED (no denial in the audit)';
}

function printAllowList(allowList) {
  console.log(`\n${ALLOW_LIST_TITLE}:`);
  if (allowList.skipped !== undefined) {
    console.log(`  skipped: ${allowList.skipped}`);
    return;
  }
  if (allowList.error !== undefined) {
    console.log(`  FAILED: ${allowList.error}`);
    return;
  }
  console.log(
    `  network { mode: 'allow', allow: [${allowList.policy.allow.map((rule) => `'${rule}'`).join(', ')}] }; both names resolved (test-only override) to the Stripe stand-in at ${allowList.standIn}`,
  );
  for (const result of allowList.results) {
    console.log(
      `  ${result.target}: ${result.verdict} (${result.reachedCanary ? 'REACHED stand-in' : 'no contact'}: ${result.output})`,
    );
    for (const record of result.egress.records) console.log(`    ${auditLine(record)}`);
    if (result.egress.dropped > 0) console.log(`    ... ${result.egress.dropped} more dropped past the audit limit`);
  }
}

/** One audit record on one line: verdict, path, destination, pinned address, rule or reason, bytes, time. */
function auditLine(record) {
  const host = record.host ?? record.sni ?? '?';
  const destination = record.port === undefined ? host : `${host}:${record.port}`;
  const address = record.address ? ` → ${record.address}` : '';
  const because = record.verdict === 'allowed' ? (record.rule ? ` rule ${record.rule}` : '') : '';
  const reason = record.reason ? `: ${record.reason}` : '';
  return `${record.verdict.padEnd(7)} ${record.path}${record.kind ? ` ${record.kind}` : ''} ${destination}${address}${because}${reason} (${record.bytesUp} B up, ${record.bytesDown} B down, ${Math.round(record.durationMs)} ms)`;
}

function demoOptions(name) {
  if (name !== 'spawn') return {};
  // The spawn backend sees only what it is given: offer the Stripe SDK read-only.
  // pnpm keeps each package in its own store folder; mount that folder, which holds only stripe.
  return { packageDirs: [dirname(realpathSync(fileURLToPath(new URL('../node_modules/stripe', import.meta.url))))] };
}

function verdictFor(demoCase, sandbox, control, sandboxReached, controlReached) {
  if (demoCase.expectsNetwork === false) return sandbox.status === 'ok' && control.status === 'ok' ? 'runs' : 'FAILED';
  if (sandboxReached) return 'LEAK';
  if (!controlReached) return 'invalid (control did not reach the canary)';
  return 'blocked';
}

function firstLine(result) {
  const text =
    `${result.stdout}\n${result.stderr}`
      .trim()
      .split('\n')
      .find((line) => line.trim() !== '') ?? '';
  return text;
}

function printTable(rows) {
  const cell = (part, width) => clip(`${part.reachedCanary ? 'REACHED canary' : 'no contact'}: ${part.output}`, width);
  const widths = [29, 52, 40, 8];
  const line = (columns) => columns.map((column, index) => String(column).padEnd(widths[index] ?? 10)).join(' | ');
  console.log(line(['case', 'sandbox (network none)', 'control (network open, same code)', 'verdict']));
  console.log(widths.map((width) => '-'.repeat(width)).join('-|-'));
  for (const row of rows)
    console.log(line([row.case, cell(row.sandbox, widths[1]), cell(row.control, widths[2]), row.verdict]));
  console.log('\nWhat the sandboxed code saw (the error tells which layer stopped it):');
  for (const row of rows) console.log(`  ${row.case}: ${row.sandbox.output}`);
}

function clip(text, width) {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
