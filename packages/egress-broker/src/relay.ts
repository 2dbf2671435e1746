import type { Socket } from 'node:net';
import type { Attempt } from './attempt.js';
import type { Broker } from './broker.js';

/** After one side ends, how long the other may keep sending: a sandbox that vanished looks like a half-close. */
export const HALF_CLOSE_GRACE_MS = 10_000;

/**
 * Copies bytes both ways between the sandbox's socket and the pinned upstream,
 * counting them into the attempt and the session's byte cap; passes half-closes
 * on. The downstream half can start before the client has said anything (a
 * server-speaks-first protocol), the upstream half only once its first bytes passed.
 */
export class Relay {
  readonly done: Promise<string | undefined>;
  #finish!: (reason: string | undefined) => void;
  #clientEnded = false;
  #upstreamEnded = false;
  #finished = false;

  constructor(
    private readonly broker: Broker,
    private readonly attempt: Attempt,
    private readonly client: Socket,
    private readonly upstream: Socket,
  ) {
    this.done = new Promise((resolve) => (this.#finish = resolve));
    client.once('close', this.#onClose);
    upstream.once('close', this.#onClose);
    if (client.destroyed || upstream.destroyed) this.stop(undefined);
  }

  startDown(): void {
    this.#pipe(this.upstream, this.client, 'bytesDown', () => (this.#upstreamEnded = true));
    this.upstream.resume();
  }

  /** Sends the already-judged first bytes, then everything after them. */
  startUp(first: Buffer, clientEnded = false): void {
    if (first.length > 0 && !this.#count('bytesUp', first.length)) return;
    if (first.length > 0) this.upstream.write(first);
    if (clientEnded) {
      this.#clientEnded = true;
      this.upstream.end();
      setTimeout(() => this.stop(undefined), HALF_CLOSE_GRACE_MS).unref();
      this.#maybeDone();
      return;
    }
    this.#pipe(this.client, this.upstream, 'bytesUp', () => (this.#clientEnded = true));
    this.client.resume();
  }

  readonly #onClose = () => this.stop(undefined);

  /** Lets the upstream go and leaves the client alone (its bytes turned out to be for the HTTP path). */
  abandonUpstream(): void {
    this.#finished = true;
    this.client.off('close', this.#onClose);
    this.upstream.destroy();
  }

  stop(reason: string | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.client.destroy();
    this.upstream.destroy();
    this.#finish(reason);
  }

  #pipe(from: Socket, to: Socket, field: 'bytesUp' | 'bytesDown', onEnd: () => void): void {
    from.on('data', (chunk: Buffer) => {
      if (!this.#count(field, chunk.length)) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => {
      onEnd();
      to.end();
      this.#maybeDone();
      setTimeout(() => this.stop(undefined), HALF_CLOSE_GRACE_MS).unref();
    });
  }

  #count(field: 'bytesUp' | 'bytesDown', length: number): boolean {
    this.attempt.fields[field] = (this.attempt.fields[field] ?? 0) + length;
    if (this.broker.caps.addBytes(length)) return true;
    this.stop('cap maxBytes reached');
    return false;
  }

  #maybeDone(): void {
    // Both halves ended: each socket closes by itself once its last write flushed, and 'close' stops the relay.
    if (this.#clientEnded && this.#upstreamEnded && this.client.writableFinished && this.upstream.writableFinished)
      this.stop(undefined);
  }
}
