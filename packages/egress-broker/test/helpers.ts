import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { EgressAuditLog, type AllowNetworkPolicy, type EgressCaps, type EgressRule } from '@cordon/core';
import dnsPacket from 'dns-packet';
import { EgressSession, type EgressResolver } from '../src/index.js';

export const ROOMY_CAPS: EgressCaps = {
  maxOpenConnections: 50,
  maxConnections: 1_000,
  maxBytes: 10_000_000,
  maxConnectionMs: 20_000,
  maxDnsQueries: 1_000,
};

const WEB = [
  { from: 443, to: 443 },
  { from: 80, to: 80 },
];

export const nameRule = (name: string, ports = WEB): EgressRule => ({ kind: 'name', name, ports, source: name });
export const wildcardRule = (suffix: string, ports = WEB): EgressRule => ({
  kind: 'wildcard',
  suffix,
  ports,
  source: `*.${suffix}`,
});
export const cidrRule = (cidr: string, ports: { from: number; to: number }[]): EgressRule => ({
  kind: 'cidr',
  cidr,
  ports,
  source: `${cidr}:${ports.map((p) => p.from).join(',')}`,
});

export function allowPolicy(params: {
  rules: EgressRule[];
  resolve?: Record<string, { address: string; port?: number }>;
  caps?: Partial<EgressCaps>;
}): AllowNetworkPolicy {
  return {
    mode: 'allow',
    rules: params.rules,
    auditLimit: 1_000,
    caps: { ...ROOMY_CAPS, ...params.caps },
    ...(params.resolve ? { resolve: new Map(Object.entries(params.resolve)) } : {}),
  };
}

/** A session in a fresh temp dir; dispose closes it and removes the dir. */
export async function startSession(params: {
  policy: AllowNetworkPolicy | { mode: 'none' };
  resolver?: EgressResolver;
}): Promise<{ session: EgressSession; audit: EgressAuditLog; socketPath: string } & AsyncDisposable> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-egress-test-'));
  const socketPath = join(dir, 'broker.sock');
  const audit = new EgressAuditLog(10_000);
  const session = await EgressSession.listen({ socketPath, audit, ...params });
  return {
    session,
    audit,
    socketPath,
    async [Symbol.asyncDispose]() {
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP server on 127.0.0.1 that logs every connection and the bytes it received; replies with `reply` if given. */
export class TcpCanary implements AsyncDisposable {
  readonly connections: { received: Buffer }[] = [];
  readonly #sockets = new Set<Socket>();
  #open = 0;
  maxOpen = 0;
  private constructor(readonly server: Server) {}

  static async start(options: { echo?: boolean; banner?: string; hold?: boolean } = {}): Promise<TcpCanary> {
    const server = createServer({ allowHalfOpen: true });
    const canary = new TcpCanary(server);
    server.on('connection', (socket) => {
      const entry = { received: Buffer.alloc(0) };
      canary.connections.push(entry);
      canary.#sockets.add(socket);
      canary.maxOpen = Math.max(canary.maxOpen, ++canary.#open);
      socket.on('close', () => {
        canary.#open--;
        canary.#sockets.delete(socket);
      });
      socket.on('error', () => socket.destroy());
      if (options.banner) socket.write(options.banner);
      socket.on('data', (chunk: Buffer) => {
        entry.received = Buffer.concat([entry.received, chunk]);
        if (options.echo) socket.write(chunk);
      });
      socket.on('end', () => {
        if (!options.hold) socket.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return canary;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get bytesReceived(): number {
    return this.connections.reduce((sum, c) => sum + c.received.length, 0);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An HTTP server on 127.0.0.1 that logs each request and answers `ok <path>`. */
export class HttpCanary implements AsyncDisposable {
  readonly requests: { method: string; url: string; host?: string; headers: Record<string, unknown> }[] = [];
  private constructor(readonly server: HttpServer) {}

  static async start(): Promise<HttpCanary> {
    const server = createHttpServer();
    const canary = new HttpCanary(server);
    server.on('request', (req, res) => {
      canary.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host,
        headers: req.headers,
      });
      req.resume();
      req.on('end', () => res.end(`ok ${req.url}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return canary;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A connection to the broker with its header line already written. */
export function openBroker(socketPath: string, header: object | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath, () => {
      socket.write(typeof header === 'string' ? header : `${JSON.stringify(header)}\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Collects everything the socket receives until it closes or `untilText` appears (or `timeoutMs`). */
export function collect(
  socket: Socket,
  options: { untilText?: string | RegExp; timeoutMs?: number } = {},
): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ data, closed });
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const until = options.untilText;
      if (until !== undefined && (typeof until === 'string' ? text.includes(until) : until.test(text))) finish(false);
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5_000);
    socket.on('data', onData);
    socket.once('close', () => finish(true));
    socket.on('error', () => undefined);
  });
}

/** Sends a CONNECT on a fresh http-proxy connection; resolves with the status line and the socket. */
export async function proxyConnect(
  socketPath: string,
  target: string,
): Promise<{ status: string; head: string; socket: Socket }> {
  const socket = await openBroker(socketPath, { v: 1, kind: 'http-proxy' });
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  const { data } = await collect(socket, { untilText: '\r\n\r\n' });
  const head = data.toString('latin1');
  return { status: head.split('\r\n')[0] ?? '', head, socket };
}

/** Starts a TLS handshake over `socket` with this SNI (the far side need not speak TLS: the ClientHello is what counts). */
export function sendClientHello(socket: Socket, servername: string): void {
  const tls = tlsConnect({ socket, servername, rejectUnauthorized: false });
  tls.on('error', () => undefined);
}

/** dns-packet decodes the response code too; its types leave it out. */
export type DnsAnswer = dnsPacket.DecodedPacket & { rcode?: string };

export async function dnsQuery(socketPath: string, questions: { name: string; type: string }[]): Promise<DnsAnswer[]> {
  const socket = await openBroker(socketPath, { v: 1, kind: 'dns' });
  const frames = questions.map((question, id) => {
    const message = dnsPacket.encode({
      type: 'query',
      id: id + 1,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: question.name, type: question.type as 'A' }],
    });
    const frame = Buffer.alloc(2 + message.length);
    frame.writeUInt16BE(message.length, 0);
    message.copy(frame, 2);
    return frame;
  });
  socket.write(Buffer.concat(frames));
  const answers: DnsAnswer[] = [];
  let buffer = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${answers.length} DNS answers`)), 5_000);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const length = buffer.readUInt16BE(0);
        answers.push(dnsPacket.decode(buffer.subarray(2, 2 + length)));
        buffer = buffer.subarray(2 + length);
      }
      if (answers.length === questions.length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.destroy();
  return answers;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds (or fails after `timeoutMs`). */
export async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
