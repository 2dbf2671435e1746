/**
 * Finds the runner's end-of-run trailer in one output stream while passing every
 * byte before it through, so the host can return as soon as the program is done
 * instead of waiting for the container to be torn down.
 *
 * The trailer is `\0cordon:<nonce>:<body>\0` (the body is empty on stdout and
 * base64 JSON on stderr). A possible partial marker at the end of a chunk is held
 * back until the next chunk decides it.
 */
export class TrailerScanner {
  readonly #marker: Buffer;
  readonly #emit: (chunk: Buffer) => void;
  #held: Buffer = Buffer.alloc(0);
  #body: Buffer[] | undefined;
  #done = false;

  constructor(nonce: string, emit: (chunk: Buffer) => void) {
    this.#marker = Buffer.from(`\0cordon:${nonce}:`);
    this.#emit = emit;
  }

  /** True once the whole trailer (up to its closing NUL) has arrived. */
  get done(): boolean {
    return this.#done;
  }

  /** The trailer's body once `done`. */
  get body(): Buffer | undefined {
    return this.#done && this.#body ? Buffer.concat(this.#body) : undefined;
  }

  push(chunk: Buffer): void {
    if (this.#done) return;
    if (this.#body) {
      this.#takeBody(chunk);
      return;
    }
    const data = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    const at = data.indexOf(this.#marker);
    if (at >= 0) {
      if (at > 0) this.#emit(data.subarray(0, at));
      this.#held = Buffer.alloc(0);
      this.#body = [];
      this.#takeBody(data.subarray(at + this.#marker.length));
      return;
    }
    const keep = this.#partialMarkerLength(data);
    if (data.length > keep) this.#emit(data.subarray(0, data.length - keep));
    this.#held = Buffer.from(data.subarray(data.length - keep));
  }

  /** The stream ended: whatever was held back was program output after all. */
  end(): void {
    if (!this.#body && this.#held.length > 0) this.#emit(this.#held);
    this.#held = Buffer.alloc(0);
  }

  #takeBody(chunk: Buffer): void {
    const end = chunk.indexOf(0);
    if (end < 0) {
      this.#body?.push(Buffer.from(chunk));
      return;
    }
    this.#body?.push(Buffer.from(chunk.subarray(0, end)));
    this.#done = true;
  }

  /** Length of the longest suffix of `data` that is a proper prefix of the marker. */
  #partialMarkerLength(data: Buffer): number {
    const max = Math.min(this.#marker.length - 1, data.length);
    for (let length = max; length > 0; length--) {
      if (data.subarray(data.length - length).equals(this.#marker.subarray(0, length))) return length;
    }
    return 0;
  }
}
