import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  allowPolicy,
  collect,
  dnsQuery,
  nameRule,
  openBroker,
  proxyConnect,
  startSession,
  TcpCanary,
} from './helpers.js';

describe('random bytes after each header', () => {
  it('never crash the session, never reach the canary, and every connection ends', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test')],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
        caps: { maxConnectionMs: 3_000 },
      }),
    });
    const headers = [
      { v: 1, kind: 'http-proxy' },
      { v: 1, kind: 'socks' },
      { v: 1, kind: 'dns' },
      { v: 1, kind: 'captured', address: '127.0.0.1', port: canary.port },
      { v: 1, kind: 'captured', address: '198.18.0.1', port: 443 },
    ];
    const runs = headers.flatMap((header) =>
      Array.from({ length: 20 }, async (_, i) => {
        const socket = await openBroker(broker.socketPath, header);
        socket.on('error', () => undefined);
        const noise = randomBytes(1 + ((i * 97) % 3_000));
        // Node's HTTP parser skips blank lines before a request line: noise of only CR and LF (the
        // 1-byte run draws one 2 times in 256) is an idle client, closed by the 30 s bound, not garbage.
        if (noise.every((byte) => byte === 0x0d || byte === 0x0a)) noise[0] = 0x00;
        // On the proxy a header's end makes the parser decide; without one, a plausible start
        // (one capital letter, say) rightly waits for more, up to the front's 30 s idle bound.
        socket.write(header.kind === 'http-proxy' ? Buffer.concat([noise, Buffer.from('\r\n\r\n')]) : noise);
        // Ends by itself (denial, parse error, cap) or when the client gives up.
        const { closed } = await collect(socket, { timeoutMs: 6_000 });
        socket.destroy();
        return { kind: header.kind, closed };
      }),
    );
    const outcomes = await Promise.all(runs);
    // DNS may legitimately wait for the rest of a frame whose random length prefix is plausible (idle timeout later).
    const stillOpen = outcomes.filter((o) => !o.closed).map((o) => o.kind);
    expect(stillOpen.filter((kind) => kind !== 'dns')).toEqual([]);
    expect(canary.connections).toHaveLength(0);
    const [answer] = await dnsQuery(broker.socketPath, [{ name: 'api.example.test', type: 'A' }]);
    expect(answer?.answers).toHaveLength(1);
    const { status, socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toContain('200');
    socket.destroy();
  });
});
