import { describe, expect, it } from 'vitest';
import {
  allowPolicy,
  cidrRule,
  collect,
  dnsQuery,
  eventually,
  HttpCanary,
  nameRule,
  openBroker,
  sendClientHello,
  startSession,
  TcpCanary,
} from './helpers.js';

async function syntheticAddressOf(socketPath: string, name: string): Promise<string> {
  const [answer] = await dnsQuery(socketPath, [{ name, type: 'A' }]);
  return String((answer?.answers?.[0] as { data: string }).data);
}

describe('captured connections', () => {
  it('judges a dial to a synthetic address by its name: matching SNI passes, another SNI is cut', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const address = await syntheticAddressOf(broker.socketPath, 'api.example.test');
    const bad = await openBroker(broker.socketPath, { v: 1, kind: 'captured', address, port: 443 });
    sendClientHello(bad, 'evil.test');
    expect((await collect(bad, { timeoutMs: 3_000 })).closed).toBe(true);
    expect(canary.connections).toHaveLength(0);
    const good = await openBroker(broker.socketPath, { v: 1, kind: 'captured', address, port: 443 });
    sendClientHello(good, 'api.example.test');
    await eventually(() => canary.bytesReceived > 0);
    good.destroy();
    await eventually(() => broker.audit.snapshot().records.length === 3);
    const [, cut, passed] = broker.audit.snapshot().records;
    expect(cut).toMatchObject({ path: 'captured', host: 'api.example.test', verdict: 'denied', sni: 'evil.test' });
    expect(cut?.reason).toContain('SNI evil.test does not match');
    expect(passed).toMatchObject({
      path: 'captured',
      host: 'api.example.test',
      verdict: 'allowed',
      address: '127.0.0.1',
    });
    expect(canary.connections).toHaveLength(1);
  });

  it('checks the Host of every plain-HTTP request on a captured connection', async () => {
    await using canary = await HttpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const address = await syntheticAddressOf(broker.socketPath, 'api.example.test');
    const socket = await openBroker(broker.socketPath, { v: 1, kind: 'captured', address, port: 80 });
    socket.write('GET /a HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    await collect(socket, { untilText: 'ok /a' });
    socket.write('GET /b HTTP/1.1\r\nHost: evil.test\r\n\r\n');
    expect((await collect(socket, { timeoutMs: 3_000 })).data.toString()).toContain('403 Forbidden');
    expect(canary.requests.map((r) => r.url)).toEqual(['/a']);
  });

  it('closes a raw dial to a real address no CIDR rule names, at once, and records it', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    const started = performance.now();
    const socket = await openBroker(broker.socketPath, {
      v: 1,
      kind: 'captured',
      address: '127.0.0.1',
      port: canary.port,
    });
    socket.write('anything');
    expect((await collect(socket, { timeoutMs: 2_000 })).closed).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
    expect(canary.connections).toHaveLength(0);
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({
      path: 'captured',
      address: '127.0.0.1',
      verdict: 'denied',
      reason: '127.0.0.1 is in no CIDR rule',
    });
  });

  it('denies a synthetic address the DNS never handed out', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    const socket = await openBroker(broker.socketPath, { v: 1, kind: 'captured', address: '198.18.200.7', port: 443 });
    expect((await collect(socket, { timeoutMs: 2_000 })).closed).toBe(true);
    expect(broker.audit.snapshot().records[0]).toMatchObject({
      verdict: 'denied',
      reason: '198.18.200.7 is in no CIDR rule',
    });
  });

  it('relays a raw dial a CIDR rule names, on its port only', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({
      policy: allowPolicy({ rules: [cidrRule('127.0.0.1/32', [{ from: canary.port, to: canary.port }])] }),
    });
    const socket = await openBroker(broker.socketPath, {
      v: 1,
      kind: 'captured',
      address: '127.0.0.1',
      port: canary.port,
    });
    socket.write('raw bytes');
    await collect(socket, { untilText: 'raw bytes' });
    socket.destroy();
    await eventually(() => broker.audit.snapshot().records.length === 1);
    const other = await openBroker(broker.socketPath, {
      v: 1,
      kind: 'captured',
      address: '127.0.0.1',
      port: canary.port === 65535 ? 1 : canary.port + 1,
    });
    expect((await collect(other, { timeoutMs: 2_000 })).closed).toBe(true);
    await eventually(() => broker.audit.snapshot().records.length === 2);
    expect(broker.audit.snapshot().records.map((r) => r.verdict)).toEqual(['allowed', 'denied']);
    expect(canary.connections).toHaveLength(1);
  });
});
