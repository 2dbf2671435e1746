import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IsolationRefusedError, type EgressRecord, type ExecutionRequest } from '@cordon/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { leftoversOf } from './helpers.js';

// Every test name maps to this loopback canary through the policy's resolve override;
// nothing here consults a resolver or leaves the machine.
let executor: SpawnExecutor;
let canary: Server;
let canaryPort = 0;
const seen: { host: string | undefined; path: string | undefined }[] = [];

beforeAll(async () => {
  executor = await SpawnExecutor.create({ isolation: 'kernel' });
  canary = createServer((request, response) => {
    seen.push({ host: request.headers.host, path: request.url });
    response.end(`canary saw ${request.url ?? ''}`);
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryPort = (canary.address() as AddressInfo).port;
});
afterAll(async () => {
  await executor?.close();
  await new Promise((resolve) => canary?.close(resolve));
});

const LISTED = 'api.listed.test';
const UNLISTED = 'evil.unlisted.test';

function allow(rules: string[]): ExecutionRequest['network'] {
  return {
    mode: 'allow',
    allow: rules,
    resolve: { [LISTED]: `127.0.0.1:${canaryPort}`, [UNLISTED]: `127.0.0.1:${canaryPort}` },
  };
}

/**
 * Node 22.21+ honours NODE_USE_ENV_PROXY, so its http.get goes through the proxy (and
 * says EnvHttpProxyAgent is experimental, once, on stderr); older Node is captured.
 */
const NODE_PROXY_WARNING = /^\(node:\d+\) \[UNDICI-EHPA\] Warning: [^\n]*\n(\(Use `node --trace-warnings[^\n]*\n)?/m;
const withoutNodeProxyWarning = (stderr: string) => stderr.replace(NODE_PROXY_WARNING, '');
const NODE_PATH = /^(captured|proxy-http)$/;

const connections = (records: readonly EgressRecord[] | undefined) =>
  (records ?? []).filter((record) => record.path !== 'dns');

describe('spawn backend: egress allow-lists', () => {
  it('says how it enforces them', () => {
    const egress = executor.capabilities().egress;
    expect(egress?.capture).toBe('all-tcp');
    expect(egress?.observes).toEqual(expect.arrayContaining(['dns', 'proxy-connect', 'captured']));
  });

  it.each([
    ['curl through HTTP_PROXY', 'bash', `curl -sS -m 5 http://${LISTED}/via-proxy`, 'proxy-http'],
    ['curl with --noproxy (captured)', 'bash', `curl -sS -m 5 --noproxy '*' http://${LISTED}/captured`, 'captured'],
    [
      'node http.get (captured)',
      'node',
      `require('http').get('http://${LISTED}/node', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b)); });`,
      NODE_PATH,
    ],
    // Node 20 (and 22 before 22.21) ignores the proxy variables: the preload's dispatcher sends fetch through the proxy.
    [
      'node fetch (through the proxy on every Node)',
      'node',
      `fetch('http://${LISTED}/fetch').then((r) => r.text()).then(console.log);`,
      'proxy-connect',
    ],
    [
      'python socket (captured)',
      'python',
      `import socket\ns = socket.create_connection(('${LISTED}', 80), timeout=5)\ns.sendall(b'GET /python HTTP/1.1\\r\\nHost: ${LISTED}\\r\\nConnection: close\\r\\n\\r\\n')\nprint(s.recv(4096).decode().split('\\r\\n\\r\\n')[-1])`,
      'captured',
    ],
  ] as const)('%s reaches a listed name, audited as allowed', async (_name, language, code, path) => {
    const events: EgressRecord[] = [];
    const onEgress = (event: { record: EgressRecord }) => events.push(event.record);
    executor.events.on('egress', onEgress);
    try {
      const result = await executor.execute({ language, code, network: allow([LISTED]), timeoutMs: 15_000 });
      expect(withoutNodeProxyWarning(result.stderr)).toBe('');
      expect(result.stdout).toMatch(/^canary saw \//);
      const allowed = connections(result.egress?.records).filter((record) => record.verdict === 'allowed');
      expect(allowed).toEqual([
        expect.objectContaining({
          path: typeof path === 'string' ? path : (expect.stringMatching(path) as unknown as string),
          host: LISTED,
          port: 80,
          verdict: 'allowed',
          rule: LISTED,
        }),
      ]);
      expect(allowed[0]!.bytesUp).toBeGreaterThan(0);
      expect(allowed[0]!.bytesDown).toBeGreaterThan(0);
      // Live events carry the same records.
      expect(events.filter((record) => record.verdict === 'allowed' && record.path !== 'dns')).toHaveLength(1);
    } finally {
      executor.events.off('egress', onEgress);
    }
  });

  it('loads the proxy agent for fetch only, and a program that sets its own dispatcher keeps it', async () => {
    const loaded = "console.log(Object.keys(require.cache).some((name) => name.endsWith('undici-proxy-agent.cjs')));";
    const plain = await executor.execute({
      language: 'node',
      code: loaded,
      network: allow([LISTED]),
      timeoutMs: 15_000,
    });
    expect(plain.stdout).toBe('false\n');
    const fetched = await executor.execute({
      language: 'node',
      code: `fetch('http://${LISTED}/load').then((r) => r.text()).then(() => { console.log(process.versions.node); ${loaded} });`,
      network: allow([LISTED]),
      timeoutMs: 15_000,
    });
    const [version = '', used] = fetched.stdout.trim().split('\n');
    // Node that honours NODE_USE_ENV_PROXY (22.21 and later) has its own agent: the bundle stays unloaded there.
    const [major = 0, minor = 0] = version.split('.').map(Number);
    const ownAgent = major >= 24 || (major === 22 && minor >= 21);
    expect(used).toBe(ownAgent ? 'false' : 'true');
    // A dispatcher the program sets wins, as it would outside (and its connections are captured).
    const replaced = await executor.execute({
      language: 'node',
      code: [
        "const key = Symbol.for('undici.globalDispatcher.1');",
        'const mine = { dispatch() { throw new Error("mine"); } };',
        'globalThis[key] = mine;',
        'console.log(globalThis[key] === mine);',
      ].join('\n'),
      network: allow([LISTED]),
      timeoutMs: 15_000,
    });
    expect(replaced.stdout).toBe('true\n');
  });

  it('denies an unlisted name fast, by proxy and by capture, and the canary sees nothing', async () => {
    const before = seen.length;
    const result = await executor.execute({
      language: 'bash',
      code: [
        `curl -sS -m 5 -o /dev/null -w 'proxy %{http_code}\\n' http://${UNLISTED}/proxied`,
        `curl -sS -m 5 --noproxy '*' http://${UNLISTED}/raw || echo "raw refused $?"`,
        `getent hosts ${UNLISTED} || echo "no address $?"`,
      ].join('\n'),
      network: allow([LISTED]),
      timeoutMs: 15_000,
    });
    expect(result.stdout).toContain('proxy 403');
    expect(result.stdout).toMatch(/raw refused|no address/);
    expect(result.durationMs).toBeLessThan(8_000);
    expect(seen.slice(before)).toEqual([]);
    const denied = (result.egress?.records ?? []).filter((record) => record.verdict === 'denied');
    expect(denied.map((record) => record.host)).toContain(UNLISTED);
    expect((result.egress?.records ?? []).some((record) => record.verdict === 'allowed')).toBe(false);
  });

  it('refuses other UDP and ICMP in the kernel, at once', async () => {
    const result = await executor.execute({
      language: 'python',
      code: [
        'import socket',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        's.connect(("192.0.2.10", 9999))',
        'try:',
        '    s.send(b"x"); s.send(b"x"); print("sent")',
        'except OSError as e:',
        '    print("refused", e.errno)',
      ].join('\n'),
      network: allow([LISTED]),
      timeoutMs: 10_000,
    });
    expect(result.stdout).toMatch(/refused|sent/);
    // Whatever the socket said, nothing left: only loopback exists in the namespace.
    expect(result.status).toBe('ok');
  });

  it('leaves no forwarder, directory or cgroup behind, also after a timeout', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: `curl -sS -m 5 http://${LISTED}/before-sleep; sleep 30`,
      network: allow([LISTED]),
      timeoutMs: 1_500,
    });
    expect(result.status).toBe('timeout');
    expect(await leftoversOf(executor)).toEqual([]);
  });

  it('refuses an allow-list in the advisory isolation (no namespace to route)', async () => {
    const advisory = await SpawnExecutor.create({ isolation: 'advisory' });
    try {
      expect(advisory.capabilities().egress).toBeUndefined();
      await expect(
        advisory.execute({ language: 'bash', code: 'true', network: allow([LISTED]) }),
      ).rejects.toBeInstanceOf(IsolationRefusedError);
    } finally {
      await advisory.close();
    }
  });
});
