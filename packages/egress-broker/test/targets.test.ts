import { describe, expect, it } from 'vitest';
import {
  allowPolicy,
  cidrRule,
  collect,
  dnsQuery,
  eventually,
  HttpCanary,
  nameRule,
  proxyConnect,
  startSession,
  TcpCanary,
} from './helpers.js';

describe('connection targets', () => {
  it('IP literals go by CIDR rules only, IPv6 included', async () => {
    await using canary = await TcpCanary.start();
    const port = [{ from: canary.port, to: canary.port }];
    await using broker = await startSession({ policy: allowPolicy({ rules: [cidrRule('127.0.0.1/32', port)] }) });
    const v4 = await proxyConnect(broker.socketPath, `127.0.0.1:${canary.port}`);
    expect(v4.status).toContain('200');
    v4.socket.write('v4');
    await eventually(() => canary.bytesReceived === 2);
    v4.socket.destroy();
    for (const target of [`[::1]:${canary.port}`, `[::ffff:127.0.0.2]:${canary.port}`, `127.0.0.2:${canary.port}`]) {
      expect((await proxyConnect(broker.socketPath, target)).status).toContain('403');
    }
    expect(canary.connections).toHaveLength(1);
  });

  it('a CONNECT to an address the session DNS handed out is judged as its name', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const [answer] = await dnsQuery(broker.socketPath, [{ name: 'api.example.test', type: 'A' }]);
    const synthetic = String((answer?.answers?.[0] as { data: string }).data);
    const { status, socket } = await proxyConnect(broker.socketPath, `${synthetic}:443`);
    expect(status).toContain('200');
    socket.write('via synthetic');
    await collect(socket, { untilText: 'via synthetic' });
    socket.destroy();
    await eventually(() => broker.audit.snapshot().records.length === 2);
    expect(broker.audit.snapshot().records[1]).toMatchObject({
      host: 'api.example.test',
      address: '127.0.0.1',
      verdict: 'allowed',
    });
  });

  it('a client silent past the peek wait that then speaks plain HTTP is still held to the target name', async () => {
    await using canary = await HttpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
    });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:80');
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    socket.write('GET /late HTTP/1.1\r\nHost: evil.test\r\n\r\n');
    expect((await collect(socket, { timeoutMs: 3_000 })).data.toString()).toContain('403 Forbidden');
    expect(canary.requests).toHaveLength(0);
  });
});
