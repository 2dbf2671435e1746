import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EgressAuditLog } from '@cordon/core';
import { EgressSession, EgressListenError, EgressSessionParamsError } from '../src/index.js';
import {
  allowPolicy,
  collect,
  eventually,
  nameRule,
  openBroker,
  proxyConnect,
  sleep,
  startSession,
  TcpCanary,
} from './helpers.js';

const canaryPolicy = (port: number, caps: Parameters<typeof allowPolicy>[0]['caps'] = {}) =>
  allowPolicy({
    rules: [nameRule('api.example.test')],
    resolve: { 'api.example.test': { address: '127.0.0.1', port } },
    caps,
  });

describe('caps', () => {
  it('denies fast once maxConnections is spent', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({ policy: canaryPolicy(canary.port, { maxConnections: 2 }) });
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const { status, socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
      expect(performance.now() - started).toBeLessThan(500);
      statuses.push(status);
      socket.destroy();
    }
    expect(statuses.map((s) => s.split(' ')[1])).toEqual(['200', '200', '403']);
    await eventually(() => broker.audit.snapshot().records.length === 3);
    expect(broker.audit.snapshot().records.find((r) => r.verdict === 'denied')?.reason).toBe(
      'cap maxConnections reached',
    );
  });

  it('cuts a tunnel past maxBytes and refuses new ones', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({ policy: canaryPolicy(canary.port, { maxBytes: 1_000 }) });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    socket.write('a'.repeat(400));
    await collect(socket, { untilText: 'a'.repeat(400) });
    socket.write('b'.repeat(400));
    expect((await collect(socket, { timeoutMs: 3_000 })).closed).toBe(true);
    await eventually(() => broker.audit.snapshot().records.length === 1);
    expect(broker.audit.snapshot().records[0]).toMatchObject({ verdict: 'allowed', reason: 'cap maxBytes reached' });
    const next = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(next.head).toContain('cap maxBytes reached');
  });

  it('ends a tunnel at maxConnectionMs', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({ policy: canaryPolicy(canary.port, { maxConnectionMs: 300 }) });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    socket.write('x');
    const started = performance.now();
    expect((await collect(socket, { timeoutMs: 3_000 })).closed).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(broker.audit.snapshot().records[0]).toMatchObject({ reason: 'cap maxConnectionMs reached' });
  });

  it('bounds a flood of 200 connections: at most maxOpenConnections reach the canary, every client gets an answer or a close', async () => {
    await using canary = await TcpCanary.start();
    await using broker = await startSession({ policy: canaryPolicy(canary.port, { maxOpenConnections: 5 }) });
    const clients: Socket[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const socket = connect(broker.socketPath);
        socket.on('error', () => undefined);
        clients.push(socket);
        socket.write(`${JSON.stringify({ v: 1, kind: 'http-proxy' })}\nCONNECT api.example.test:443 HTTP/1.1\r\n\r\n`);
        const { data, closed } = await collect(socket, { untilText: '\r\n\r\n', timeoutMs: 5_000 });
        const status = data.toString().split(' ')[1];
        if (status === '200') socket.write('x');
        return status ?? (closed ? 'closed' : 'silent');
      }),
    );
    const counts = outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
    expect(counts.silent ?? 0).toBe(0);
    expect(counts['200']).toBe(5);
    await eventually(() => canary.connections.length === 5);
    await sleep(100);
    expect(canary.maxOpen).toBeLessThanOrEqual(5);
    expect(broker.audit.snapshot().records.filter((r) => r.verdict === 'denied').length).toBe(counts['403'] ?? 0);
    for (const client of clients) client.destroy();
    await eventually(() => broker.audit.snapshot().records.length === (counts['403'] ?? 0) + 5);
    const after = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(after.status).toContain('200');
    after.socket.destroy();
  });
});

describe('untrusted input on the socket', () => {
  it('bounds sockets that never send a header: those past the limit are closed within half a second, the rest at the header timeout', async () => {
    await using broker = await startSession({ policy: canaryPolicy(9, { maxOpenConnections: 5 }) });
    const closedAt: number[] = [];
    const started = performance.now();
    const sockets = Array.from({ length: 200 }, () => {
      const socket = connect(broker.socketPath);
      socket.on('error', () => undefined);
      socket.on('close', () => closedAt.push(performance.now() - started));
      return socket;
    });
    await eventually(() => closedAt.length >= 200 - (5 + 64), 2_000);
    expect(closedAt.length).toBeLessThanOrEqual(200 - (5 + 64) + 5);
    await eventually(() => closedAt.length === 200, 8_000);
    expect(Math.max(...closedAt)).toBeLessThan(7_000);
    for (const socket of sockets) socket.destroy();
    const { status } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toContain('200');
  });

  it('closes on a garbage, oversized, unknown or silent header, and keeps serving', async () => {
    await using canary = await TcpCanary.start({ echo: true });
    await using broker = await startSession({ policy: canaryPolicy(canary.port) });
    const headers = [
      'not json\n',
      `${JSON.stringify({ v: 1, kind: 'http-proxy', pad: 'x'.repeat(600) })}\n`,
      'x'.repeat(2_000),
      `${JSON.stringify({ v: 2, kind: 'http-proxy' })}\n`,
      `${JSON.stringify({ v: 1, kind: 'telnet' })}\n`,
      `${JSON.stringify({ v: 1, kind: 'captured', address: 'api.example.test', port: 443 })}\n`,
      `${JSON.stringify({ v: 1, kind: 'captured', address: '127.0.0.1', port: 70_000 })}\n`,
      '[1]\n',
      Buffer.from([0xff, 0xfe, 0x00, 0x0a]).toString('latin1'),
    ];
    for (const header of headers) {
      const socket = await openBroker(broker.socketPath, header);
      expect((await collect(socket, { timeoutMs: 2_000 })).closed).toBe(true);
    }
    expect(broker.audit.snapshot().records).toHaveLength(0);
    expect(canary.connections).toHaveLength(0);
    const { status, socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    expect(status).toContain('200');
    socket.destroy();
  });

  it('answers a malformed HTTP request with 400 and a malformed CONNECT target with 403', async () => {
    await using broker = await startSession({ policy: canaryPolicy(9) });
    const bad = await openBroker(broker.socketPath, { v: 1, kind: 'http-proxy' });
    bad.write('GARBAGE\r\n\r\n');
    expect((await collect(bad, { timeoutMs: 2_000 })).data.toString()).toContain('400 Bad Request');
    const { status } = await proxyConnect(broker.socketPath, 'api.example.test');
    expect(status).toContain('403');
  });

  it('dials after the peek wait when the client says nothing (server speaks first), still judging later bytes', async () => {
    await using canary = await TcpCanary.start({ banner: '220 hello\r\n' });
    await using broker = await startSession({ policy: canaryPolicy(canary.port) });
    const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
    const started = performance.now();
    await collect(socket, { untilText: '220 hello' });
    expect(performance.now() - started).toBeGreaterThan(1_500);
    socket.write('QUIT\r\n');
    await eventually(() => canary.bytesReceived === 6);
  });
});

describe('lifecycle', () => {
  it('close() ends open tunnels within a second and records them; idempotent', async () => {
    await using canary = await TcpCanary.start({ echo: true, hold: true });
    const broker = await startSession({ policy: canaryPolicy(canary.port) });
    const tunnels = await Promise.all(
      [1, 2, 3].map(async () => {
        const { socket } = await proxyConnect(broker.socketPath, 'api.example.test:443');
        socket.write('hold');
        await collect(socket, { untilText: 'hold' });
        return socket;
      }),
    );
    const started = performance.now();
    await broker.session.close();
    await broker.session.close();
    await Promise.all(
      tunnels.map((socket) => (socket.destroyed ? Promise.resolve() : collect(socket, { timeoutMs: 1_000 }))),
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(tunnels.every((socket) => socket.destroyed || socket.readableEnded)).toBe(true);
    const records = broker.audit.snapshot().records;
    expect(records).toHaveLength(3);
    expect(records.every((r) => r.reason === 'session closed' && r.bytesUp === 4)).toBe(true);
    await expect(openBroker(broker.socketPath, { v: 1, kind: 'dns' })).rejects.toThrow();
    await broker[Symbol.asyncDispose]();
  });

  it('an aborted signal closes the session', async () => {
    const controller = new AbortController();
    const dir = mkdtempSync(join(tmpdir(), 'cordon-egress-test-'));
    const socketPath = join(dir, 'b.sock');
    await EgressSession.listen({
      socketPath,
      policy: { mode: 'none' },
      audit: new EgressAuditLog(),
      signal: controller.signal,
    });
    controller.abort();
    await sleep(50);
    await expect(openBroker(socketPath, { v: 1, kind: 'dns' })).rejects.toThrow();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects bad params with a typed error naming the field, and an existing socket path', async () => {
    await using broker = await startSession({ policy: { mode: 'none' } });
    await expect(
      EgressSession.listen({ socketPath: '', policy: { mode: 'none' }, audit: new EgressAuditLog() }),
    ).rejects.toThrow(EgressSessionParamsError);
    await expect(
      EgressSession.listen({
        socketPath: '/tmp/x.sock',
        policy: { mode: 'open' } as never,
        audit: new EgressAuditLog(),
      }),
    ).rejects.toThrow(/policy\.mode/);
    await expect(
      EgressSession.listen({ socketPath: broker.socketPath, policy: { mode: 'none' }, audit: new EgressAuditLog() }),
    ).rejects.toThrow(EgressListenError);
  });
});
