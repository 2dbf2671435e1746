import type { Readable, Writable } from 'node:stream';
import type { AllowNetworkPolicy, EgressAuditLog } from '@cordon/core';
import { BrokerDaemonError } from './daemon-error.js';
import { readLines } from './line-reader.js';
import { DAEMON_WIRE_VERSION, SESSION_KEY, toWirePolicy, type DaemonCommand, type DaemonEvent } from './wire.js';

export interface DaemonSessionParams {
  /** A path component ([A-Za-z0-9_-], at most 64), unique among the daemon's open sessions. */
  readonly session: string;
  /** The sandbox's group: only it may pass the session's directory. */
  readonly gid: number;
  readonly policy: AllowNetworkPolicy | { readonly mode: 'none' };
  /** Each of the session's records is added here as the daemon sends it. */
  readonly audit: EgressAuditLog;
  readonly signal?: AbortSignal;
}

/** One open session on a daemon. */
export interface DaemonSession extends AsyncDisposable {
  /** The session's unix socket, as a path in the daemon's file system. */
  readonly socket: string;
  /** Resolves once the daemon has closed the session and sent every one of its records. */
  close(): Promise<void>;
}

interface Waiting {
  resolve(value: string | undefined): void;
  reject(error: Error): void;
}

/** How long a command may wait for its answer: the daemon answers at once, or it is gone. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * The caller's side of a BrokerDaemon's channel (wire.ts): opens and closes
 * sessions and routes each record to its session's audit log. A record for a
 * session that is not open is dropped: it belongs to no execution of this caller.
 */
export class BrokerDaemonClient implements AsyncDisposable {
  readonly #input: Writable;
  readonly #audits = new Map<string, EgressAuditLog>();
  readonly #opening = new Map<string, Waiting>();
  readonly #closing = new Map<string, Waiting>();
  #broken: Error | undefined;

  private constructor(input: Writable) {
    this.#input = input;
  }

  /** Attaches to a daemon's channel and waits for its `ready`. */
  static attach(params: { input: Writable; output: Readable; signal?: AbortSignal }): Promise<BrokerDaemonClient> {
    const client = new BrokerDaemonClient(params.input);
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(
        () => fail(new BrokerDaemonError('the daemon did not say ready in time')),
        ANSWER_TIMEOUT_MS,
      );
      const fail = (error: Error) => {
        clearTimeout(timer);
        client.#break(error);
        if (!ready) reject(error);
      };
      params.signal?.addEventListener('abort', () => fail(new BrokerDaemonError('aborted')), { once: true });
      readLines(params.output, {
        onLine: (line) => {
          const event = parseEvent(line);
          if (!event)
            return fail(new BrokerDaemonError(`the daemon sent a line that is not an event: ${line.slice(0, 80)}`));
          if (event.ev === 'ready' && !ready) {
            ready = true;
            clearTimeout(timer);
            client.#tcpPort = typeof event.tcpPort === 'number' ? event.tcpPort : undefined;
            return resolve(client);
          }
          client.#onEvent(event);
        },
        onOverflow: () => fail(new BrokerDaemonError('the daemon sent a line over the bound')),
        onEnd: () => fail(new BrokerDaemonError('the daemon closed its channel')),
      });
    });
  }

  async open(params: DaemonSessionParams): Promise<DaemonSession> {
    const { session } = params;
    if (!SESSION_KEY.test(session))
      throw new BrokerDaemonError(`session ${JSON.stringify(session)} is not a key ([A-Za-z0-9_-], at most 64)`);
    if (this.#audits.has(session)) throw new BrokerDaemonError(`session ${session} is open already`);
    params.signal?.throwIfAborted();
    this.#audits.set(session, params.audit);
    try {
      const socket = await this.#ask(this.#opening, session, {
        v: DAEMON_WIRE_VERSION,
        op: 'open',
        session,
        gid: params.gid,
        policy: toWirePolicy(params.policy),
      });
      let closed: Promise<void> | undefined;
      const close = () =>
        (closed ??= this.#ask(this.#closing, session, { v: DAEMON_WIRE_VERSION, op: 'close', session })
          .then(() => undefined)
          .finally(() => this.#audits.delete(session)));
      return { socket: socket ?? '', close, [Symbol.asyncDispose]: close };
    } catch (error) {
      this.#audits.delete(session);
      throw error;
    }
  }

  /** Where the daemon's TCP front listens (its own address's port), when it has one. */
  get tcpPort(): number | undefined {
    return this.#tcpPort;
  }
  #tcpPort: number | undefined;

  /** Whether the channel still works: false once the daemon closed it, sent garbage, or this client was closed. */
  get alive(): boolean {
    return this.#broken === undefined;
  }

  /** Ends the channel: the daemon closes every session it still has. */
  close(): Promise<void> {
    if (!this.#input.writableEnded) this.#input.end();
    this.#break(new BrokerDaemonError('the client is closed'));
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #ask(waiting: Map<string, Waiting>, session: string, command: DaemonCommand): Promise<string | undefined> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(session);
        reject(new BrokerDaemonError(`the daemon did not answer ${command.op} ${session} in time`));
      }, ANSWER_TIMEOUT_MS);
      waiting.set(session, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.#input.write(`${JSON.stringify(command)}\n`);
    });
  }

  #onEvent(event: DaemonEvent): void {
    switch (event.ev) {
      case 'record':
        return this.#audits.get(event.session)?.add(event.record);
      case 'opened':
        return this.#settle(this.#opening, event.session, event.socket);
      case 'closed':
        return this.#settle(this.#closing, event.session, undefined);
      case 'error':
        if (event.session === undefined) return;
        for (const waiting of [this.#opening, this.#closing]) {
          const entry = waiting.get(event.session);
          if (!entry) continue;
          waiting.delete(event.session);
          entry.reject(new BrokerDaemonError(event.message));
        }
        return;
      case 'ready':
        return;
    }
  }

  #settle(waiting: Map<string, Waiting>, session: string, value: string | undefined): void {
    const entry = waiting.get(session);
    waiting.delete(session);
    entry?.resolve(value);
  }

  #break(error: Error): void {
    this.#broken ??= error;
    for (const waiting of [this.#opening, this.#closing]) {
      for (const entry of waiting.values()) entry.reject(this.#broken);
      waiting.clear();
    }
  }
}

function parseEvent(line: string): DaemonEvent | undefined {
  try {
    const value = JSON.parse(line) as Partial<DaemonEvent> | null;
    if (typeof value !== 'object' || value === null || value.v !== DAEMON_WIRE_VERSION) return undefined;
    if (!['ready', 'opened', 'record', 'closed', 'error'].includes(value.ev as string)) return undefined;
    return value as DaemonEvent;
  } catch {
    return undefined;
  }
}
