import { describe, expect, it, vi } from 'vitest';
import { allowPolicy, cidrRule, eventually, nameRule, proxyConnect, startSession, TcpCanary } from './helpers.js';

const ANY_PORT = [{ from: 1, to: 65535 }];

describe('deny set on resolved addresses', () => {
  it.each([
    [['127.0.0.1']],
    [['10.0.0.1']],
    [['169.254.169.254']],
    [['::1']],
    [['fd00::1']],
    [['::ffff:127.0.0.1']],
    [['100.64.0.1', '192.168.1.1', '172.16.0.1', 'fe80::1']],
    // Embedded IPv4 forms, each around loopback: mapped, NAT64, IPv4-compatible, 6to4, Teredo.
    [['64:ff9b::127.0.0.1', '::127.0.0.1', '2002:7f00:1::1', '2001:0:7f00:1::1']],
    [['192.0.2.1', '198.51.100.1', '203.0.113.1', '2001:db8::1', 'fec0::1', '100::1']],
  ])('a listed name resolving to %j is not dialled (the loopback canary sees nothing)', async (addresses) => {
    await using canary = await TcpCanary.start();
    const resolver = vi.fn(() => Promise.resolve(addresses));
    await using broker = await startSession({
      policy: allowPolicy({ rules: [nameRule('api.example.test', ANY_PORT)] }),
      resolver,
    });
    const { status, head } = await proxyConnect(broker.socketPath, `api.example.test:${canary.port}`);
    expect(status).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toContain('resolves only to denied addresses');
    expect(resolver).toHaveBeenCalledWith('api.example.test');
    expect(canary.connections).toHaveLength(0);
    expect(broker.audit.snapshot().records[0]).toMatchObject({ verdict: 'denied', host: 'api.example.test' });
  });

  it('an address a CIDR rule names passes the deny set', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({
      policy: allowPolicy({ rules: [nameRule('api.example.test', ANY_PORT), cidrRule('127.0.0.1/32', ANY_PORT)] }),
      resolver: () => Promise.resolve(['10.1.2.3', '127.0.0.1']),
    });
    const { status, socket } = await proxyConnect(broker.socketPath, `api.example.test:${canary.port}`);
    expect(status).toContain('200');
    socket.write('x');
    await eventually(() => canary.bytesReceived === 1);
    socket.destroy();
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({ verdict: 'allowed', address: '127.0.0.1' });
  });

  it('never calls the resolver when the policy carries a resolve override, and unlisted override names are denied', async () => {
    await using canary = await TcpCanary.start();
    const resolver = vi.fn(() => Promise.resolve(['127.0.0.1']));
    await using broker = await startSession({
      policy: allowPolicy({
        rules: [nameRule('api.example.test', ANY_PORT), nameRule('missing.example.test', ANY_PORT)],
        resolve: { 'api.example.test': { address: '127.0.0.1', port: canary.port } },
      }),
      resolver,
    });
    const allowed = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(allowed.status).toContain('200');
    allowed.socket.destroy();
    const missing = await proxyConnect(broker.socketPath, 'missing.example.test:443');
    expect(missing.status).toContain('403');
    expect(missing.head).toContain('has no address in the resolve override');
    expect(resolver).not.toHaveBeenCalled();
  });

  it('a failing resolver is a denial with its reason, not a hang', async () => {
    await using broker = await startSession({
      policy: allowPolicy({ rules: [nameRule('api.example.test')] }),
      resolver: () => Promise.reject(new Error('ENOTFOUND')),
    });
    const { status, head } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toContain('403');
    expect(head).toContain('cannot resolve api.example.test: ENOTFOUND');
  });
});
