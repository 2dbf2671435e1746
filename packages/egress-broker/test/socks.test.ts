import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  allowPolicy,
  collect,
  eventually,
  HttpCanary,
  nameRule,
  openBroker,
  sendClientHello,
  startSession,
  TcpCanary,
} from './helpers.js';

/** Greets with no-auth and sends one request; resolves with the reply code. */
async function socksRequest(
  socketPath: string,
  request: Buffer,
): Promise<{ code: number | undefined; socket: Socket }> {
  const socket = await openBroker(socketPath, { v: 1, kind: 'socks' });
  socket.write(Buffer.from([0x05, 0x01, 0x00]));
  const greeting = await collect(socket, { untilText: /^[\s\S]{2}/ });
  expect([...greeting.data]).toEqual([0x05, 0x00]);
  socket.write(request);
  const reply = await collect(socket, { untilText: /^[\s\S]{10}/ });
  return { code: reply.data[1], socket };
}

const domainRequest = (name: string, port: number, command = 0x01) =>
  Buffer.concat([Buffer.from([0x05, command, 0x00, 0x03, name.length]), Buffer.from(name), portBytes(port)]);
const ipv4Request = (address: string, port: number) =>
  Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x01, ...address.split('.').map(Number)]), portBytes(port)]);
const ipv6Request = (port: number) =>
  Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x04]), Buffer.alloc(15), Buffer.from([1]), portBytes(port)]);
function portBytes(port: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(port);
  return bytes;
}

describe('socks5', () => {
  it('connects an allowed name to its pinned address and records it', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { code, socket } = await socksRequest(broker.socketPath, domainRequest('api.example.test', 443));
    expect(code).toBe(0x00);
    socket.write('ping over socks');
    await collect(socket, { untilText: 'ping over socks' });
    socket.end();
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({
      path: 'socks',
      host: 'api.example.test',
      verdict: 'allowed',
      bytesUp: 15,
      bytesDown: 15,
    });
    expect(canary.connections).toHaveLength(1);
  });

  it('replies 0x02 at once for an unlisted name, a raw IPv4 and a raw IPv6 target', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'evil.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const started = performance.now();
    const codes = [];
    for (const request of [
      domainRequest('evil.test', 443),
      ipv4Request('127.0.0.1', canary.port),
      ipv6Request(canary.port),
    ]) {
      const { code, socket } = await socksRequest(broker.socketPath, request);
      codes.push(code);
      socket.destroy();
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(codes).toEqual([0x02, 0x02, 0x02]);
    expect(canary.connections).toHaveLength(0);
    await eventually(() => broker.audit.snapshot().records.length === 3);
    expect(broker.audit.snapshot().records.map((r) => r.reason)).toEqual([
      'evil.test is not on the allow-list',
      '127.0.0.1 is in no CIDR rule',
      '0:0:0:0:0:0:0:1 is in no CIDR rule',
    ]);
  });

  it('replies 0x07 to BIND and UDP ASSOCIATE', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    for (const command of [0x02, 0x03]) {
      const { code, socket } = await socksRequest(broker.socketPath, domainRequest('api.example.test', 443, command));
      expect(code).toBe(0x07);
      socket.destroy();
    }
  });

  it('refuses clients that offer only username/password auth', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [] }) });
    const socket = await openBroker(broker.socketPath, { v: 1, kind: 'socks' });
    socket.write(Buffer.from([0x05, 0x01, 0x02]));
    const { data, closed } = await collect(socket, { timeoutMs: 2_000 });
    expect([...data]).toEqual([0x05, 0xff]);
    expect(closed).toBe(true);
  });

  it('checks SNI and Host on a SOCKS tunnel like on CONNECT', async () => {
    await using tcp = await TcpCanary.start();
    await using http = await HttpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test'), nameRule('web.example.test')],
        resolve: {
          'api.example.test': { address: '127.0.0.1', port: tcp.port },
          'web.example.test': { address: '127.0.0.1', port: http.port },
        },
      }),
    });
    const tls = await socksRequest(broker.socketPath, domainRequest('api.example.test', 443));
    sendClientHello(tls.socket, 'evil.test');
    expect((await collect(tls.socket, { timeoutMs: 3_000 })).closed).toBe(true);
    const plain = await socksRequest(broker.socketPath, domainRequest('web.example.test', 80));
    plain.socket.write('GET /x HTTP/1.1\r\nHost: evil.test\r\n\r\n');
    expect((await collect(plain.socket, { timeoutMs: 3_000 })).data.toString()).toContain('403 Forbidden');
    expect(tcp.connections).toHaveLength(0);
    expect(http.requests).toHaveLength(0);
    await eventually(() => broker.audit.snapshot().records.length === 2);
    expect(broker.audit.snapshot().records.map((r) => r.reason)).toEqual([
      'SNI evil.test does not match SOCKS target api.example.test',
      "Host evil.test:80 does not match the tunnel's target web.example.test",
    ]);
  });
});
