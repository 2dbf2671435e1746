import { describe, expect, it, vi } from 'vitest';
import {
  allowPolicy,
  dnsQuery,
  nameRule,
  openBroker,
  collect,
  startSession,
  wildcardRule,
  proxyConnect,
  TcpCanary,
} from './helpers.js';

describe('dns', () => {
  it('answers a listed name with a stable synthetic 198.18/15 address, unlisted names NXDOMAIN, and never calls a resolver', async () => {
    const resolver = vi.fn(() => Promise.resolve(['127.0.0.1']));
    await using broker = await startSession({
      policy: allowPolicy({ rules: [nameRule('api.example.test'), wildcardRule('cdn.test')] }),
      resolver,
    });
    const answers = await dnsQuery(broker.socketPath, [
      { name: 'api.example.test', type: 'A' },
      { name: 'img.cdn.test', type: 'A' },
      { name: 'API.example.test.', type: 'A' },
      { name: 'evil.test', type: 'A' },
      { name: 'cdn.test', type: 'A' },
    ]);
    const first = answers[0]?.answers?.[0];
    expect(first).toMatchObject({ type: 'A', name: 'api.example.test' });
    expect(String((first as { data: string }).data)).toMatch(/^198\.1[89]\.\d+\.\d+$/);
    const second = (answers[1]?.answers?.[0] as { data: string }).data;
    expect(second).toMatch(/^198\.1[89]\./);
    expect(second).not.toBe((first as { data: string }).data);
    expect((answers[2]?.answers?.[0] as { data: string }).data).toBe((first as { data: string }).data);
    expect(answers.slice(3).map((a) => a.rcode)).toEqual(['NXDOMAIN', 'NXDOMAIN']);
    expect(resolver).not.toHaveBeenCalled();
    const records = broker.audit.snapshot().records;
    expect(records.map((r) => [r.path, r.host, r.kind, r.verdict])).toEqual([
      ['dns', 'api.example.test', 'A', 'allowed'],
      ['dns', 'img.cdn.test', 'A', 'allowed'],
      ['dns', 'api.example.test', 'A', 'allowed'],
      ['dns', 'evil.test', 'A', 'denied'],
      ['dns', 'cdn.test', 'A', 'denied'],
    ]);
    expect(records[0]?.rule).toBe('api.example.test');
  });

  it('serves no other query types: TXT/MX/ANY get NODATA or NXDOMAIN, AAAA NODATA; all audited', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    const answers = await dnsQuery(broker.socketPath, [
      { name: 'api.example.test', type: 'TXT' },
      { name: 'api.example.test', type: 'MX' },
      { name: 'api.example.test', type: 'ANY' },
      { name: 'api.example.test', type: 'AAAA' },
      { name: 'secret-data.evil.test', type: 'TXT' },
    ]);
    expect(answers.map((a) => [a.rcode, a.answers?.length ?? 0])).toEqual([
      ['NOERROR', 0],
      ['NOERROR', 0],
      ['NOERROR', 0],
      ['NOERROR', 0],
      ['NXDOMAIN', 0],
    ]);
    expect(broker.audit.snapshot().records.map((r) => [r.kind, r.verdict])).toEqual([
      ['TXT', 'denied'],
      ['MX', 'denied'],
      ['ANY', 'denied'],
      ['AAAA', 'allowed'],
      ['TXT', 'denied'],
    ]);
  });

  it('denies over-long names and bad labels (exfiltration shapes) with a reason', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [wildcardRule('example.test')] }) });
    const label = 'a'.repeat(63);
    const answers = await dnsQuery(broker.socketPath, [
      { name: `${label}.${label}.${label}.${label}.example.test`, type: 'A' },
      { name: 'bad_label!.example.test', type: 'A' },
      { name: `${label}.unlisted.test`, type: 'A' },
    ]);
    expect(answers.map((a) => a.rcode)).toEqual(['FORMERR', 'NXDOMAIN', 'NXDOMAIN']);
    const records = broker.audit.snapshot().records;
    expect(records.map((r) => r.verdict)).toEqual(['denied', 'denied', 'denied']);
    expect(records[0]?.reason).toMatch(/^malformed DNS message \(.*name too long/);
    expect(records[1]?.reason).toBe('not a valid host name');
    expect(records[2]?.reason).toBe(`${label}.unlisted.test is not on the allow-list`);
  });

  it('closes on a malformed or oversized frame, and the session still answers', async () => {
    await using broker = await startSession({ policy: allowPolicy({ rules: [nameRule('api.example.test')] }) });
    const bad = await openBroker(broker.socketPath, { v: 1, kind: 'dns' });
    bad.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    expect((await collect(bad, { timeoutMs: 2_000 })).closed).toBe(true);
    const tooShort = await openBroker(broker.socketPath, { v: 1, kind: 'dns' });
    tooShort.write(Buffer.from([0, 3, 1, 2, 3]));
    expect((await collect(tooShort, { timeoutMs: 2_000 })).closed).toBe(true);
    const garbage = await openBroker(broker.socketPath, { v: 1, kind: 'dns' });
    garbage.write(Buffer.concat([Buffer.from([0, 20]), Buffer.alloc(20, 0xee)]));
    const formErr = await collect(garbage, { untilText: /[\s\S]{14}/, timeoutMs: 2_000 });
    expect(formErr.data.readUInt16BE(2)).toBe(0xeeee);
    expect(formErr.data[5]! & 0x0f).toBe(1);
    garbage.destroy();
    const [answer] = await dnsQuery(broker.socketPath, [{ name: 'api.example.test', type: 'A' }]);
    expect(answer?.answers).toHaveLength(1);
  });

  it('stops answering past maxDnsQueries', async () => {
    await using broker = await startSession({
      policy: allowPolicy({ rules: [nameRule('api.example.test')], caps: { maxDnsQueries: 2 } }),
    });
    const answers = await dnsQuery(
      broker.socketPath,
      Array.from({ length: 3 }, () => ({ name: 'api.example.test', type: 'A' })),
    );
    expect(answers.map((a) => a.rcode)).toEqual(['NOERROR', 'NOERROR', 'REFUSED']);
    expect(broker.audit.snapshot().records[2]).toMatchObject({
      verdict: 'denied',
      reason: 'cap maxDnsQueries reached',
    });
  });

  it("in 'none' mode answers every name NXDOMAIN, audits the names and refuses every connection", async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({ policy: { mode: 'none' } });
    const answers = await dnsQuery(broker.socketPath, [
      { name: 'api.example.test', type: 'A' },
      { name: 'leak.evil.test', type: 'TXT' },
    ]);
    expect(answers.map((a) => a.rcode)).toEqual(['NXDOMAIN', 'NXDOMAIN']);
    const { status } = await proxyConnect(broker.socketPath, `127.0.0.1:${canary.port}`);
    expect(status).toBe('HTTP/1.1 403 Forbidden');
    const captured = await openBroker(broker.socketPath, {
      v: 1,
      kind: 'captured',
      address: '127.0.0.1',
      port: canary.port,
    });
    expect((await collect(captured, { timeoutMs: 2_000 })).closed).toBe(true);
    expect(canary.connections).toHaveLength(0);
    expect(broker.audit.snapshot().records.map((r) => [r.path, r.host, r.verdict, r.reason])).toEqual([
      ['dns', 'api.example.test', 'denied', 'network mode is none'],
      ['dns', 'leak.evil.test', 'denied', 'network mode is none'],
      ['proxy-connect', '127.0.0.1', 'denied', 'network mode is none'],
      ['captured', '127.0.0.1', 'denied', 'network mode is none'],
    ]);
  });
});
