import type { Socket } from 'node:net';

/**
 * Reads exact byte counts from an untrusted socket, each read bounded in time;
 * `rest()` hands back whatever arrived beyond the last read.
 */
export class SocketReader {
  #buffer: Buffer;
  #waiter: (() => void) | undefined;
  #closed = false;

  constructor(
    private readonly socket: Socket,
    initial: Buffer,
  ) {
    this.#buffer = initial;
    socket.on('data', this.#onData);
    socket.once('close', this.#onClose);
    socket.once('end', this.#onClose);
    socket.resume();
  }

  readonly #onData = (chunk: Buffer) => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    // Nobody reading more than a few hundred bytes here: a client that floods is paused.
    if (this.#buffer.length > 4_096) this.socket.pause();
    this.#waiter?.();
  };

  readonly #onClose = () => {
    this.#closed = true;
    this.#waiter?.();
  };

  /** Exactly `length` bytes, or undefined if the socket closed or `timeoutMs` passed first. */
  async read(length: number, timeoutMs: number): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < length) {
      if (this.#closed || Date.now() >= deadline) return undefined;
      this.socket.resume();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    const out = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return out;
  }

  /** Stops reading; returns the bytes beyond the last read, leaving the socket paused. */
  rest(): Buffer {
    this.socket.off('data', this.#onData);
    this.socket.off('close', this.#onClose);
    this.socket.off('end', this.#onClose);
    this.socket.pause();
    return this.#buffer;
  }
}
