import type { Socket } from 'node:net';
import type { AllowNetworkPolicy, EgressAuditLog, EgressPath } from '@cordon/core';
import { Attempt } from './attempt.js';
import type { CapsMeter } from './caps.js';
import type { EgressResolver } from './resolve.js';
import type { SyntheticAddresses } from './synthetic.js';

/** What every handler of one session shares; close() ends every tracked socket and attempt. */
export class Broker {
  readonly #sockets = new Set<Socket>();
  readonly #attempts = new Set<Attempt>();
  #closed = false;

  constructor(
    /** Undefined in `none` mode. */
    readonly policy: AllowNetworkPolicy | undefined,
    readonly audit: EgressAuditLog,
    readonly caps: CapsMeter,
    readonly synthetic: SyntheticAddresses,
    readonly resolver: EgressResolver,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Destroyed on close(); forgotten when it closes by itself. */
  track(socket: Socket): Socket {
    if (this.#closed) {
      socket.destroy();
      return socket;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    // An error is an ending like any other here; 'close' follows.
    socket.on('error', () => socket.destroy());
    return socket;
  }

  attempt(path: EgressPath): Attempt {
    const attempt = new Attempt(path, this.audit, (ended) => this.#attempts.delete(ended));
    if (this.#closed) attempt.end('denied', 'session closed');
    else this.#attempts.add(attempt);
    return attempt;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const attempt of [...this.#attempts]) {
      attempt.end(attempt.fields.rule !== undefined ? 'allowed' : 'denied', 'session closed');
    }
    for (const socket of [...this.#sockets]) socket.destroy();
  }
}
