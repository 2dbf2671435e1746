import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import { normalizeHostName, type EgressPath } from '@cordon/core';
import type { Attempt } from './attempt.js';
import { authorise } from './authorise.js';
import type { Broker } from './broker.js';
import { CONNECT_TIMEOUT_MS } from './dial.js';
import { endToEndHeaders, headBytes, hostHeaderCount } from './http-headers.js';
import { printable, splitAuthority, unbracket } from './names.js';
import { runTunnel } from './tunnel.js';

/** A tunnel (CONNECT, SOCKS, captured) found to carry plain HTTP: every request on it is checked against it. */
export interface HttpTunnel {
  readonly path: EgressPath;
  readonly name: string;
  /** The port the sandbox asked for: a Host header's port must equal it. */
  readonly requestedPort: number;
  readonly address: string;
  readonly port: number;
  readonly rule: string | undefined;
  /** Recorded only if no request ever comes; each request is its own record otherwise. */
  readonly attempt: Attempt;
}

interface TunnelState extends HttpTunnel {
  requests: number;
  readonly agent: Agent;
}

/**
 * Node's HTTP server, fed sockets rather than listening: parses requests on
 * http-proxy connections (absolute URIs and CONNECT) and on tunnels that carry
 * plain HTTP, and checks every request on a kept-alive connection.
 */
export class HttpFront {
  readonly #server: Server;
  readonly #tunnels = new WeakMap<Socket, TunnelState>();

  constructor(private readonly broker: Broker) {
    this.#server = createServer({ maxHeaderSize: 16_384 });
    // Idle sockets are closed (the server does not listen, so its own header timers never start).
    this.#server.timeout = 30_000;
    this.#server.on('request', (req, res) => this.#onRequest(req, res));
    this.#server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#onConnect(req, socket, head).catch(() => socket.destroy());
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const attempt = this.#attemptFor(socket, 'proxy-http').set({ kind: printable(req.method ?? '?', 16) });
      denyRaw(socket, attempt, 'protocol upgrades are not relayed');
    });
    this.#server.on('clientError', (_error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    });
  }

  /** An http-proxy connection: `rest` is what arrived after the header line. */
  adoptProxy(socket: Socket, rest: Buffer): void {
    this.#adopt(socket, rest);
  }

  /** A tunnel whose first bytes are plain HTTP (the tunnel ends its own attempt when the socket closes). */
  adoptTunnel(socket: Socket, first: Buffer, tunnel: HttpTunnel): void {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // One upstream connection to the pinned address, as a raw tunnel would have.
    agent.createConnection = () => this.broker.track(dialForAgent(tunnel.address, tunnel.port));
    this.#tunnels.set(socket, { ...tunnel, requests: 0, agent });
    socket.once('close', () => agent.destroy());
    this.#adopt(socket, first);
  }

  #adopt(socket: Socket, bytes: Buffer): void {
    if (socket.destroyed) return;
    if (bytes.length > 0) socket.unshift(bytes);
    this.#server.emit('connection', socket);
    socket.resume();
  }

  #attemptFor(socket: Socket, path: EgressPath): Attempt {
    const tunnel = this.#tunnels.get(socket);
    if (tunnel && tunnel.requests++ === 0) tunnel.attempt.discard();
    return this.broker.attempt(tunnel?.path ?? path);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const tunnel = this.#tunnels.get(req.socket);
    const attempt = this.#attemptFor(req.socket, 'proxy-http').set({ kind: printable(req.method ?? '?', 16) });
    this.#serve(req, res, attempt, tunnel).catch((error: unknown) => {
      deny(res, attempt, `broker error: ${error instanceof Error ? error.message : String(error)}`, true);
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse, attempt: Attempt, tunnel?: TunnelState): Promise<void> {
    const target = requestTarget(req, tunnel);
    if ('reason' in target) {
      if (target.host !== undefined) attempt.set({ host: target.host });
      return deny(res, attempt, target.reason, tunnel !== undefined);
    }
    if (tunnel) {
      attempt.set({ host: tunnel.name, address: tunnel.address, port: tunnel.requestedPort, rule: tunnel.rule });
      if (target.host !== tunnel.name || target.port !== tunnel.requestedPort) {
        const asked = `${target.host}:${target.port}`;
        return deny(res, attempt, `Host ${asked} does not match the tunnel's target ${tunnel.name}`, true);
      }
      return this.#forward(req, res, attempt, { agent: tunnel.agent, path: target.path });
    }
    const allowed = await authorise(this.broker, attempt, { host: target.host, port: target.port });
    if (!allowed.ok) return deny(res, attempt, allowed.reason, false);
    res.once('close', allowed.release);
    const lifetime = setTimeout(() => {
      attempt.end('allowed', 'cap maxConnectionMs reached');
      req.socket.destroy();
    }, this.broker.caps.caps.maxConnectionMs);
    res.once('close', () => clearTimeout(lifetime));
    return this.#forward(req, res, attempt, {
      address: allowed.address,
      port: allowed.port,
      path: target.path,
    });
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    attempt: Attempt,
    to: { agent: Agent; path: string } | { address: string; port: number; path: string },
  ): void {
    const headers = endToEndHeaders(req);
    const upstreamReq = request({
      ...('agent' in to ? { agent: to.agent, host: 'pinned' } : { agent: false, host: to.address, port: to.port }),
      method: req.method,
      path: to.path,
      headers,
      setHost: false,
      timeout: CONNECT_TIMEOUT_MS,
    });
    if (!('agent' in to)) upstreamReq.once('socket', (socket: Socket) => this.broker.track(socket));
    const count = (field: 'bytesUp' | 'bytesDown', length: number) => {
      attempt.fields[field] = (attempt.fields[field] ?? 0) + length;
      if (this.broker.caps.addBytes(length)) return true;
      attempt.end('allowed', 'cap maxBytes reached');
      upstreamReq.destroy();
      req.socket.destroy();
      return false;
    };
    count('bytesUp', headBytes(`${req.method} ${to.path} HTTP/1.1`, headers));
    upstreamReq.on('timeout', () => upstreamReq.destroy(new Error('upstream idle')));
    upstreamReq.on('error', (error) => {
      const reason = `upstream: ${error.message}`;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', 'x-cordon-upstream-error': printable(reason, 200) });
        res.end(`cordon: ${reason}\n`);
      } else res.destroy();
      attempt.end('allowed', reason);
    });
    upstreamReq.on('response', (upstreamRes) => {
      const responseHeaders = endToEndHeaders(upstreamRes);
      count('bytesDown', headBytes(`HTTP/1.1 ${upstreamRes.statusCode} ${upstreamRes.statusMessage}`, responseHeaders));
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
      upstreamRes.on('data', (chunk: Buffer) => {
        if (!count('bytesDown', chunk.length)) return;
        if (!res.write(chunk)) {
          upstreamRes.pause();
          res.once('drain', () => upstreamRes.resume());
        }
      });
      upstreamRes.once('end', () => {
        res.end();
        attempt.end('allowed');
      });
      upstreamRes.once('error', () => res.destroy());
    });
    req.on('data', (chunk: Buffer) => {
      if (count('bytesUp', chunk.length) && !upstreamReq.write(chunk)) {
        req.pause();
        upstreamReq.once('drain', () => req.resume());
      }
    });
    req.once('end', () => upstreamReq.end());
    res.once('close', () => {
      if (!res.writableFinished) {
        upstreamReq.destroy();
        attempt.end('allowed', 'client closed before the response ended');
      }
    });
  }

  async #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    if (this.#tunnels.has(socket)) {
      return denyRaw(socket, this.#attemptFor(socket, 'proxy-connect'), 'CONNECT inside a tunnel');
    }
    const attempt = this.broker.attempt('proxy-connect').set({ kind: 'CONNECT' });
    const authority = splitAuthority(req.url ?? '');
    if (!authority || authority.port === undefined) {
      attempt.set({ host: printable(req.url ?? '', 253) });
      return denyRaw(socket, attempt, 'a CONNECT target is host:port');
    }
    const allowed = await authorise(this.broker, attempt, { host: authority.host, port: authority.port });
    if (!allowed.ok) return denyRaw(socket, attempt, allowed.reason);
    if (socket.destroyed) {
      allowed.release();
      return attempt.end('allowed', 'client closed');
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    await runTunnel({
      broker: this.broker,
      http: this,
      attempt,
      client: socket,
      initial: head,
      target: allowed,
      requestedPort: authority.port,
      describeTarget: `CONNECT target ${allowed.name ?? authority.host}`,
    });
  }
}

/** http.Agent wants its socket synchronously: the same pinned address and connect timeout as every other dial. */
function dialForAgent(address: string, port: number): Socket {
  const socket = connect({ host: address, port });
  socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
    if (socket.connecting)
      socket.destroy(new Error(`no connection to ${address}:${port} within ${CONNECT_TIMEOUT_MS} ms`));
  });
  socket.once('connect', () => socket.setTimeout(0));
  return socket;
}

type Target = { host: string; port: number; path: string } | { reason: string; host?: string };

/** The request's destination: its absolute URI (proxy) or the tunnel's, agreeing with its Host header. */
function requestTarget(req: IncomingMessage, tunnel: TunnelState | undefined): Target {
  const url = req.url ?? '';
  let host: string | undefined;
  let port: number | undefined;
  let path = url;
  if (/^http:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { reason: 'malformed request URI' };
    }
    host = hostKey(unbracket(parsed.hostname));
    if (host === undefined) return { reason: `${printable(parsed.hostname, 80)} is not a valid host name` };
    port = parsed.port ? Number(parsed.port) : 80;
    path = `${parsed.pathname}${parsed.search}`;
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return { reason: 'only http:// URIs are proxied (https goes through CONNECT)' };
  } else if (!tunnel) {
    return { reason: 'a proxy request carries an absolute http:// URI' };
  } else if (!url.startsWith('/') && url !== '*') {
    return { reason: 'malformed request target' };
  }
  const hosts = hostHeaderCount(req);
  if (hosts > 1) return { reason: 'more than one Host header' };
  const header = req.headers.host;
  if (header !== undefined) {
    const authority = splitAuthority(header);
    const headerHost = authority ? hostKey(authority.host) : undefined;
    if (!authority || headerHost === undefined) return { reason: `malformed Host header ${printable(header, 80)}` };
    const headerPort = authority.port ?? port ?? tunnel?.requestedPort ?? 80;
    if (host !== undefined && (headerHost !== host || headerPort !== port)) {
      return { reason: `Host ${headerHost}:${headerPort} does not match the URI's ${host}:${port}`, host };
    }
    host ??= headerHost;
    port ??= headerPort;
  }
  if (host === undefined || port === undefined) {
    if (!tunnel) return { reason: 'no host to go to' };
    host = tunnel.name;
    port = tunnel.requestedPort;
  }
  return { host, port, path };
}

/** A name normalised, or an IP literal as written; undefined when neither. */
function hostKey(host: string): string | undefined {
  return isIP(host) ? host.toLowerCase() : normalizeHostName(host);
}

function deny(res: ServerResponse, attempt: Attempt, reason: string, close: boolean): void {
  attempt.end('denied', reason);
  if (res.headersSent) return void res.destroy();
  const body = `cordon: egress denied: ${reason}\n`;
  res.writeHead(403, 'Forbidden', {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-cordon-denied': printable(reason, 300),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** A 403 written straight to a socket the HTTP server let go of (CONNECT, upgrade). */
export function denyRaw(socket: Socket, attempt: Attempt, reason: string): void {
  attempt.end('denied', reason);
  const body = `cordon: egress denied: ${reason}\n`;
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Cordon-Denied: ${printable(reason, 300)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), 1_000).unref();
}
