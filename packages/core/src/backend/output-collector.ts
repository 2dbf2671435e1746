import { StringDecoder } from 'node:string_decoder';
import type { OutputListener } from '../request.js';
import { debug } from './debug.js';

/**
 * Collects one output stream up to a byte cap. Bytes past the cap are dropped as
 * they arrive (never buffered) and the stream is flagged truncated; the program
 * itself keeps running. UTF-8 sequences split across chunks decode correctly.
 */
export class OutputCollector {
  readonly #limitBytes: number;
  readonly #listener: OutputListener | undefined;
  readonly #decoder = new StringDecoder('utf8');
  readonly #parts: string[] = [];
  #keptBytes = 0;
  #seenBytes = 0;
  #listenerFailed = false;

  constructor(limitBytes: number, listener?: OutputListener) {
    this.#limitBytes = limitBytes;
    this.#listener = listener;
  }

  get truncated(): boolean {
    return this.#seenBytes > this.#limitBytes;
  }

  /** Total bytes the program wrote to this stream, kept or not. */
  get seenBytes(): number {
    return this.#seenBytes;
  }

  write(chunk: Uint8Array): void {
    this.#seenBytes += chunk.byteLength;
    const room = this.#limitBytes - this.#keptBytes;
    if (room <= 0) return;
    const kept = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    this.#keptBytes += kept.byteLength;
    this.#emit(this.#decoder.write(Buffer.from(kept.buffer, kept.byteOffset, kept.byteLength)));
  }

  /** Flushes a trailing partial character and returns everything kept. */
  finish(): string {
    this.#emit(this.#decoder.end());
    return this.#parts.join('');
  }

  #emit(text: string): void {
    if (text.length === 0) return;
    this.#parts.push(text);
    if (!this.#listener || this.#listenerFailed) return;
    try {
      this.#listener(text);
    } catch (error) {
      // A throwing listener must not kill the execution; stop calling it. Its class only: its message may quote output.
      debug(
        'core.output',
        () => `output listener threw ${error instanceof Error ? error.name : typeof error}, no longer called`,
      );
      this.#listenerFailed = true;
    }
  }
}
