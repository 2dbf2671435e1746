import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AllowNetworkPolicy, EgressAuditLog } from '@cordon/core';
import { Broker } from './broker.js';
import { handleCaptured } from './captured.js';
import { CapsMeter, NONE_MODE_CAPS } from './caps.js';
import { handleDns } from './dns.js';
import { EgressListenError, EgressSessionParamsError } from './errors.js';
import { readHeader } from './header.js';
import { HttpFront } from './http-front.js';
import { systemResolver, type EgressResolver } from './resolve.js';
import { handleSocks } from './socks.js';
import { SyntheticAddresses } from './synthetic.js';

export interface EgressSessionParams {
  /** The unix socket to create (mode 0666: the sandbox runs as another uid). It must not exist. */
  readonly socketPath: string;
  /** `none`: every DNS query NXDOMAIN (and audited), every connection refused. */
  readonly policy: AllowNetworkPolicy | { readonly mode: 'none' };
  /** The caller's log: the session adds one record per attempt. */
  readonly audit: EgressAuditLog;
  /** Host lookups for listed names; default node:dns A and AAAA. Never used when `policy.resolve` is set. */
  readonly resolver?: EgressResolver;
  /** Aborting closes the session. */
  readonly signal?: AbortSignal;
}

/** Sockets on the broker's socket beyond the open-connection cap: room for DNS and for quick denials. */
const INBOUND_SLACK = 64;
/** Sockets past the bound waiting for their header, to be recorded and refused; more are dropped unread. */
const MAX_OVERFLOW_SOCKETS = 1_024;
/** The forwarder sends its header at once; past the bound a silent socket is not waited for long. */
const OVERFLOW_HEADER_WAIT_MS = 500;
/** A unix socket path longer than this does not fit sun_path on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;
const CLOSE_WAIT_MS = 1_000;

/**
 * One execution's egress broker: the sandbox's only way out. Listens on a unix
 * socket; each connection opens with a JSON header line naming what follows
 * (http-proxy, socks, dns, captured). Everything on it is untrusted.
 */
export class EgressSession implements AsyncDisposable {
  readonly #server: Server;
  readonly #broker: Broker;
  readonly #inbound = new Set<Socket>();
  #closing: Promise<void> | undefined;

  private constructor(
    readonly socketPath: string,
    server: Server,
    broker: Broker,
    private readonly signal?: AbortSignal,
  ) {
    this.#server = server;
    this.#broker = broker;
  }

  static async listen(params: EgressSessionParams): Promise<EgressSession> {
    validate(params);
    params.signal?.throwIfAborted();
    const policy = params.policy.mode === 'allow' ? params.policy : undefined;
    const caps = new CapsMeter(policy?.caps ?? NONE_MODE_CAPS);
    const resolver: EgressResolver = params.resolver ?? systemResolver;
    const broker = new Broker(policy, params.audit, caps, new SyntheticAddresses(), resolver);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(params.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await chmod(params.socketPath, 0o666);
    } catch (cause) {
      server.close();
      throw new EgressListenError(params.socketPath, { cause });
    }
    const session = new EgressSession(params.socketPath, server, broker, params.signal);
    server.on('connection', (socket: Socket) => session.#accept(socket));
    server.on('error', () => void session.close());
    params.signal?.addEventListener('abort', session.#onAbort, { once: true });
    return session;
  }

  readonly #onAbort = () => void this.close();

  /**
   * A connection that reached this session some other way (the daemon's TCP front,
   * after the line that named the session): from `head` on it is handled as if it had
   * come on the session's socket, bounds and records included.
   */
  adopt(socket: Socket, head: Buffer): void {
    if (head.length > 0) socket.unshift(head);
    this.#accept(socket);
  }

  #accept(socket: Socket): void {
    const limit = this.#broker.caps.caps.maxOpenConnections + INBOUND_SLACK;
    if (this.#broker.closed || this.#overflow.size >= MAX_OVERFLOW_SOCKETS) return void socket.destroy();
    if (this.#inbound.size >= limit) return this.#refuse(socket);
    this.#inbound.add(socket);
    socket.once('close', () => this.#inbound.delete(socket));
    this.#broker.track(socket);
    socket.resume();
    this.#dispatch(socket).catch(() => socket.destroy());
  }

  /**
   * Past the open-connection bound a connection is still an attempt the audit must
   * count: its header says what it was, it gets its denial record, and it is closed.
   */
  #refuse(socket: Socket): void {
    this.#overflow.add(socket);
    socket.once('close', () => this.#overflow.delete(socket));
    socket.resume();
    void readHeader(socket, OVERFLOW_HEADER_WAIT_MS).then((opened) => {
      if (opened) {
        const { header } = opened;
        const path = header.kind === 'http-proxy' ? 'proxy-http' : header.kind;
        const attempt = this.#broker.attempt(path);
        if (header.kind === 'captured') attempt.set({ address: header.address, port: header.port });
        attempt.end('denied', 'cap maxOpenConnections reached (too many connections open at once)');
      }
      socket.destroy();
    });
  }
  readonly #overflow = new Set<Socket>();

  async #dispatch(socket: Socket): Promise<void> {
    const opened = await readHeader(socket);
    if (!opened || this.#broker.closed) return void socket.destroy();
    const { header, rest } = opened;
    switch (header.kind) {
      case 'dns':
        return handleDns(this.#broker, socket, rest);
      case 'http-proxy':
        return this.#http.adoptProxy(socket, rest);
      case 'socks':
        return handleSocks(this.#broker, this.#http, socket, rest);
      case 'captured':
        return handleCaptured(this.#broker, this.#http, socket, rest, header);
    }
  }

  get #http(): HttpFront {
    this.#front ??= new HttpFront(this.#broker);
    return this.#front;
  }
  #front: HttpFront | undefined;

  /** Closes the listener and every relayed connection (open attempts are recorded as cut); idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.signal?.removeEventListener('abort', this.#onAbort);
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#broker.close();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
      await rm(this.socketPath, { force: true }).catch(() => undefined);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function validate(params: EgressSessionParams): void {
  const { socketPath, policy, audit, resolver } = params;
  if (typeof socketPath !== 'string' || socketPath.length === 0)
    throw new EgressSessionParamsError('socketPath', socketPath, 'must be a non-empty path');
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES)
    throw new EgressSessionParamsError('socketPath', socketPath, `must be at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  const mode = (policy as { mode?: unknown } | undefined)?.mode;
  if (mode !== 'allow' && mode !== 'none')
    throw new EgressSessionParamsError('policy.mode', mode, "must be 'allow' or 'none'");
  if (mode === 'allow') {
    const allow = policy as AllowNetworkPolicy;
    if (!Array.isArray(allow.rules))
      throw new EgressSessionParamsError('policy.rules', allow.rules, 'must be an array');
    const caps = allow.caps as unknown as Record<string, unknown> | undefined;
    for (const field of ['maxOpenConnections', 'maxConnections', 'maxBytes', 'maxConnectionMs', 'maxDnsQueries']) {
      const value = caps?.[field];
      if (typeof value !== 'number' || !(value >= 0))
        throw new EgressSessionParamsError(`policy.caps.${field}`, value, 'must be a number ≥ 0');
    }
  }
  if (typeof audit?.add !== 'function') throw new EgressSessionParamsError('audit', audit, 'must be an EgressAuditLog');
  if (resolver !== undefined && typeof resolver !== 'function')
    throw new EgressSessionParamsError('resolver', resolver, 'must be a function');
}
