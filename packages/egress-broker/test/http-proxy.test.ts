import { describe, expect, it } from 'vitest';
import {
  allowPolicy,
  collect,
  HttpCanary,
  nameRule,
  openBroker,
  proxyConnect,
  sendClientHello,
  startSession,
  TcpCanary,
  wildcardRule,
  eventually,
} from './helpers.js';

describe('http-proxy CONNECT', () => {
  it('relays an allowed CONNECT to the pinned canary and records it once, with bytes', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test', [{ from: 443, to: 443 }])],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { status, socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toBe('HTTP/1.1 200 Connection Established');
    socket.write('hello broker');
    const { data } = await collect(socket, { untilText: 'hello broker' });
    expect(data.toString()).toBe('hello broker');
    socket.end();
    await eventually(() => broker.audit.snapshot().records.length === 1);
    const [record] = broker.audit.snapshot().records;
    expect(record).toMatchObject({
      path: 'proxy-connect',
      host: 'api.example.test',
      address: '127.0.0.1',
      // The port asked for, not the one the test override dials.
      port: 443,
      verdict: 'allowed',
      rule: 'api.example.test',
      bytesUp: 12,
      bytesDown: 12,
    });
    expect(canary.connections).toHaveLength(1);
    expect(canary.bytesReceived).toBe(record?.bytesUp);
  });

  it('answers 403 at once for a name not on the list, and nothing reaches the canary', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: {
          'api.example.test': { address: '127.0.0.1', port: canary.port },
          'other.example.test': { address: '127.0.0.1', port: canary.port },
        },
      }),
    });
    const started = performance.now();
    const { status, head } = await proxyConnect(broker.socketPath, 'other.example.test:443');
    expect(performance.now() - started).toBeLessThan(500);
    expect(status).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toMatch(/X-Cordon-Denied: other\.example\.test is not on the allow-list/);
    expect(canary.connections).toHaveLength(0);
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({ verdict: 'denied', host: 'other.example.test' });
  });

  it('denies a port the rule does not list', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    const { status, head } = await proxyConnect(broker.socketPath, 'api.example.test:22');
    expect(status).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toContain('not port 22');
  });

  it('a wildcard allows names strictly below it, not its apex nor look-alike siblings', async () => {
    await using canary = await TcpCanary.start();
    const names = ['example.test', 'a.example.test', 'a.b.example.test', 'xexample.test', 'example.test.evil.test'];
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [wildcardRule('example.test')],
        resolve: Object.fromEntries(names.map((name) => [name, { address: '127.0.0.1', port: canary.port }])),
      }),
    });
    const statuses: Record<string, string> = {};
    for (const name of names) {
      const { status, socket } = await proxyConnect(broker.socketPath, `${name}:443`);
      statuses[name] = status;
      socket.destroy();
    }
    expect(statuses).toEqual({
      'example.test': 'HTTP/1.1 403 Forbidden',
      'a.example.test': 'HTTP/1.1 200 Connection Established',
      'a.b.example.test': 'HTTP/1.1 200 Connection Established',
      'xexample.test': 'HTTP/1.1 403 Forbidden',
      'example.test.evil.test': 'HTTP/1.1 403 Forbidden',
    });
  });

  it('a name rule is not fooled by suffix tricks, case or a trailing dot', async () => {
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: 9 } },
      }),
    });
    const statuses: string[] = [];
    for (const target of [
      'api.example.test.evil.test',
      'evilapi.example.test',
      'api.example.test@evil.test',
      'x.api.example.test',
    ]) {
      statuses.push((await proxyConnect(broker.socketPath, `${target}:443`)).status);
    }
    expect(statuses).toEqual(Array(4).fill('HTTP/1.1 403 Forbidden'));
    const upper = await proxyConnect(broker.socketPath, 'API.Example.TEST.:443');
    expect(upper.status).toBe('HTTP/1.1 200 Connection Established');
    upper.socket.destroy();
  });

  it('closes the tunnel when the ClientHello names another server; the canary gets nothing', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { status, socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toContain('200');
    sendClientHello(socket, 'evil.test');
    const { closed } = await collect(socket, { timeoutMs: 3_000 });
    expect(closed).toBe(true);
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({
      path: 'proxy-connect',
      verdict: 'denied',
      sni: 'evil.test',
      reason: 'SNI evil.test does not match CONNECT target api.example.test',
      bytesUp: 0,
    });
    expect(canary.connections).toHaveLength(0);
  });

  it('passes a ClientHello whose SNI is the CONNECT target through, bytes intact', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    sendClientHello(socket, 'API.example.test');
    await eventually(() => canary.bytesReceived > 0);
    expect(canary.connections[0]?.received[0]).toBe(0x16);
    socket.destroy();
    await eventually(() => broker.audit.snapshot().records.length === 1);
    const [record] = broker.audit.snapshot().records;
    expect(record).toMatchObject({ verdict: 'allowed', sni: 'api.example.test' });
    expect(record?.bytesUp).toBe(canary.bytesReceived);
  });

  it('checks every plain-HTTP request inside a CONNECT tunnel', async () => {
    await using canary = await HttpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:80');
    socket.write('GET /first HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    expect((await collect(socket, { untilText: 'ok /first' })).data.toString()).toContain('200 OK');
    socket.write('GET /second HTTP/1.1\r\nHost: other.test\r\n\r\n');
    const second = await collect(socket, { timeoutMs: 3_000 });
    expect(second.data.toString()).toContain('403 Forbidden');
    expect(second.closed).toBe(true);
    expect(canary.requests.map((r) => r.url)).toEqual(['/first']);
    await eventually(() => broker.audit.snapshot().records.length === 2);
    expect(broker.audit.snapshot().records.map((r) => [r.path, r.kind, r.verdict])).toEqual([
      ['proxy-connect', 'GET', 'allowed'],
      ['proxy-connect', 'GET', 'denied'],
    ]);
  });
});

describe('http-proxy plain HTTP', () => {
  async function setup() {
    const canary = await HttpCanary.start();
    const broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: {
          'api.example.test': { address: '127.0.0.1', port: canary.port },
          'other.test': { address: '127.0.0.1', port: canary.port },
        },
      }),
    });
    return {
      canary,
      broker,
      async [Symbol.asyncDispose]() {
        await broker[Symbol.asyncDispose]();
        await canary[Symbol.asyncDispose]();
      },
    };
  }

  it('forwards an allowed absolute-URI request with its Host and without proxy headers', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    socket.write(
      'GET http://api.example.test/path?q=1 HTTP/1.1\r\nHost: api.example.test\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n',
    );
    const { data } = await collect(socket, { untilText: 'ok /path?q=1' });
    expect(data.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(env.canary.requests).toHaveLength(1);
    const [request] = env.canary.requests;
    expect(request).toMatchObject({ method: 'GET', url: '/path?q=1', host: 'api.example.test' });
    expect(request?.headers).not.toHaveProperty('proxy-authorization');
    expect(request?.headers).not.toHaveProperty('proxy-connection');
    expect(request?.headers).toHaveProperty('x-kept', 'yes');
    socket.destroy();
    await eventually(() => env.broker.audit.snapshot().records.length === 1);
    const [record] = env.broker.audit.snapshot().records;
    expect(record).toMatchObject({ path: 'proxy-http', kind: 'GET', verdict: 'allowed', host: 'api.example.test' });
    expect(record?.bytesUp).toBeGreaterThan(0);
    expect(record?.bytesDown).toBeGreaterThan(0);
  });

  it('denies an unlisted host with 403 and keeps the connection for the next request', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    socket.write('GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n');
    const denied = await collect(socket, { untilText: 'egress denied' });
    expect(denied.data.toString()).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(denied.data.toString()).toMatch(/x-cordon-denied: other\.test is not on the allow-list/i);
    socket.write('GET http://api.example.test/after HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    await collect(socket, { untilText: 'ok /after' });
    expect(env.canary.requests.map((r) => r.url)).toEqual(['/after']);
    socket.destroy();
  });

  it('checks the second request on a kept-alive connection: another host is denied, the canary sees only the first', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    socket.write('GET http://api.example.test/one HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    await collect(socket, { untilText: 'ok /one' });
    socket.write('GET http://other.test/two HTTP/1.1\r\nHost: other.test\r\n\r\n');
    const second = await collect(socket, { untilText: 'egress denied' });
    expect(second.data.toString()).toContain('403 Forbidden');
    expect(env.canary.requests.map((r) => r.url)).toEqual(['/one']);
    socket.destroy();
    await eventually(() => env.broker.audit.snapshot().records.length === 2);
    expect(env.broker.audit.snapshot().records.map((r) => r.verdict)).toEqual(['allowed', 'denied']);
  });

  it('denies a request whose Host header disagrees with its URI, or that carries two Host headers', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    socket.write('GET http://api.example.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n');
    const first = await collect(socket, { untilText: 'egress denied' });
    expect(first.data.toString()).toMatch(
      /x-cordon-denied: Host other\.test:80 does not match the URI's api\.example\.test:80/i,
    );
    socket.write('GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\nHost: other.test\r\n\r\n');
    const second = await collect(socket, { untilText: 'egress denied' });
    expect(second.data.toString()).toContain('403 Forbidden');
    expect(env.canary.requests).toHaveLength(0);
    socket.destroy();
  });

  it('denies origin-form requests and https:// URIs on the proxy', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    socket.write('GET /relative HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    expect((await collect(socket, { untilText: 'egress denied' })).data.toString()).toContain('absolute http://');
    socket.write('GET https://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    expect((await collect(socket, { untilText: 'egress denied' })).data.toString()).toContain('only http://');
    expect(env.canary.requests).toHaveLength(0);
    socket.destroy();
  });

  it('audit cross-check: allowed records equal the requests the canary saw', async () => {
    await using env = await setup();
    const socket = await openBroker(env.broker.socketPath, { v: 1, kind: 'http-proxy' });
    const hosts = ['api.example.test', 'other.test', 'api.example.test', 'evil.test', 'api.example.test'];
    for (const [i, host] of hosts.entries()) {
      socket.write(`GET http://${host}/${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      await collect(socket, { untilText: host === 'api.example.test' ? `ok /${i}` : 'egress denied' });
    }
    socket.destroy();
    await eventually(() => env.broker.audit.snapshot().records.length === hosts.length);
    const allowed = env.broker.audit.snapshot().records.filter((r) => r.verdict === 'allowed');
    expect(allowed).toHaveLength(env.canary.requests.length);
    expect(env.canary.requests.map((r) => r.url)).toEqual(['/0', '/2', '/4']);
  });
});
