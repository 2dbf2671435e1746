import { chmodSync } from 'node:fs';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EgressAuditLog } from '@cordon/core';
import type { EgressResolver } from '../resolve.js';
import { EgressSession } from '../session.js';
import { readLines } from './line-reader.js';
import { parseCommand } from './parse-command.js';
import { listenTcpFront, type TcpFront } from './tcp-front.js';
import { DAEMON_WIRE_VERSION, fromWirePolicy, type DaemonCommand, type DaemonEvent } from './wire.js';

export interface BrokerDaemonParams {
  /** Where session directories are made: `<root>/<session>/broker.sock`. */
  readonly root: string;
  /** Commands, one JSON line each (wire.ts). */
  readonly input: Readable;
  /** Events, one JSON line each. */
  readonly output: Writable;
  readonly resolver?: EgressResolver;
  /**
   * Also listen here for sandboxes that share no file system with the daemon (pods):
   * each connection names its session first (tcp-front.ts). Port 0 picks one; `ready`
   * says which.
   */
  readonly tcp?: { readonly host: string; readonly port: number };
}

/** The daemon's session socket, inside the session's directory. */
export const DAEMON_SOCKET_NAME = 'broker.sock';

/**
 * Many executions' egress sessions in one process, driven over a line channel
 * (wire.ts): `open` makes a session (its directory passable by the sandbox's group
 * alone, so no other sandbox on a shared volume can dial it), every record is sent as it
 * happens, `close` ends one; the input's end closes them all. The records are the
 * broker's: no sandbox writes on this channel.
 */
export class BrokerDaemon {
  readonly #params: BrokerDaemonParams;
  readonly #sessions = new Map<string, Promise<EgressSession | undefined>>();
  #ended: Promise<void> | undefined;
  #front: TcpFront | undefined;

  constructor(params: BrokerDaemonParams) {
    this.#params = params;
  }

  /** Serves until the input ends (or breaks), then closes every session; resolves when they are closed. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = () => void this.#closeAll().then(resolve);
      // The session keys are the names in the root: a sandbox may pass through it to its own, never list it.
      try {
        chmodSync(this.#params.root, 0o711);
      } catch (error) {
        this.#send({ v: DAEMON_WIRE_VERSION, ev: 'error', message: `cannot prepare the root: ${String(error)}` });
        return resolve();
      }
      const started = this.#params.tcp ? this.#listenTcp(this.#params.tcp) : Promise.resolve(undefined);
      readLines(this.#params.input, {
        onLine: (line) => this.#onLine(line),
        onOverflow: () => {
          this.#send({
            v: DAEMON_WIRE_VERSION,
            ev: 'error',
            message: 'a command line is over the bound; the channel is closed',
          });
          finish();
        },
        onEnd: finish,
      });
      if (!this.#params.tcp) return this.#send({ v: DAEMON_WIRE_VERSION, ev: 'ready' });
      started.then(
        (port) => this.#send({ v: DAEMON_WIRE_VERSION, ev: 'ready', ...(port === undefined ? {} : { tcpPort: port }) }),
        (error: unknown) => {
          this.#send({ v: DAEMON_WIRE_VERSION, ev: 'error', message: `cannot listen on TCP: ${String(error)}` });
          finish();
        },
      );
    });
  }

  async #listenTcp(tcp: { host: string; port: number }): Promise<number> {
    this.#front = await listenTcpFront({
      ...tcp,
      sessionFor: (key) => this.#sessions.get(key) ?? Promise.resolve(undefined),
    });
    return this.#front.port;
  }

  #onLine(line: string): void {
    if (line.trim() === '') return;
    const parsed = parseCommand(line);
    if (typeof parsed === 'string') return this.#send({ v: DAEMON_WIRE_VERSION, ev: 'error', message: parsed });
    if (parsed.op === 'open') this.#open(parsed);
    else void this.#close(parsed.session);
  }

  #open(command: Extract<DaemonCommand, { op: 'open' }>): void {
    const { session } = command;
    if (this.#sessions.has(session))
      return this.#send({
        v: DAEMON_WIRE_VERSION,
        ev: 'error',
        session,
        message: `session ${session} is open already`,
      });
    const dir = join(this.#params.root, session);
    const socket = join(dir, DAEMON_SOCKET_NAME);
    const opening = (async () => {
      try {
        await rm(dir, { recursive: true, force: true });
        // The daemon's own, group the sandbox's, mode 0710: that group may pass to the socket, no other
        // sandbox may, and the daemon (root without CAP_DAC_OVERRIDE in its container) keeps it.
        await mkdir(dir, { mode: 0o710 });
        await chown(dir, -1, command.gid);
        await chmod(dir, 0o710);
        // The daemon keeps no records: each goes out at once, and the caller's log applies its limit.
        const audit = new EgressAuditLog(0, (record) =>
          this.#send({ v: DAEMON_WIRE_VERSION, ev: 'record', session, record }),
        );
        const listening = await EgressSession.listen({
          socketPath: socket,
          policy: fromWirePolicy(command.policy),
          audit,
          ...(this.#params.resolver ? { resolver: this.#params.resolver } : {}),
        });
        this.#send({ v: DAEMON_WIRE_VERSION, ev: 'opened', session, socket });
        return listening;
      } catch (error) {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        this.#sessions.delete(session);
        this.#send({
          v: DAEMON_WIRE_VERSION,
          ev: 'error',
          session,
          message: `cannot open session ${session}: ${String(error)}`,
        });
        return undefined;
      }
    })();
    this.#sessions.set(session, opening);
  }

  async #close(session: string): Promise<void> {
    const opening = this.#sessions.get(session);
    if (!opening) return this.#send({ v: DAEMON_WIRE_VERSION, ev: 'error', session, message: `no session ${session}` });
    this.#sessions.delete(session);
    const listening = await opening;
    await listening?.close();
    await rm(join(this.#params.root, session), { recursive: true, force: true }).catch(() => undefined);
    // Sent after every record of the session: the broker adds a connection's record when it is cut.
    this.#send({ v: DAEMON_WIRE_VERSION, ev: 'closed', session });
  }

  #closeAll(): Promise<void> {
    this.#ended ??= Promise.all([
      this.#front?.close(),
      ...[...this.#sessions.keys()].map((session) => this.#close(session)),
    ]).then(() => undefined);
    return this.#ended;
  }

  #send(event: DaemonEvent): void {
    if (!this.#params.output.writableEnded) this.#params.output.write(`${JSON.stringify(event)}\n`);
  }
}
