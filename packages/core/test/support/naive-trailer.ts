/**
 * DELIBERATELY NAIVE framing of one output stream, for the unisolated test
 * executor: the stream is read line by line with no bound on a line's length
 * (a line without its newline is held whole), and on stderr the first
 * `\0cordon:<nonce>:` starts an in-band trailer whose body is held, unbounded,
 * up to the next NUL. Whatever the trailer says is then believed. Every
 * result-channel probe must catch this; never copy it into a backend.
 */
export class NaiveStream {
  readonly #marker: Buffer | undefined;
  readonly #emit: (chunk: Buffer) => void;
  #line: Buffer[] = [];
  #body: Buffer[] | undefined;
  #trailer: Buffer | undefined;

  /** `nonce` set: this stream carries the trailer. */
  constructor(nonce: string | undefined, emit: (chunk: Buffer) => void) {
    this.#marker = nonce === undefined ? undefined : Buffer.from(`\0cordon:${nonce}:`);
    this.#emit = emit;
  }

  /** The first complete trailer's body. */
  get trailer(): Buffer | undefined {
    return this.#trailer;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.#body) {
        const end = rest.indexOf(0);
        if (end < 0) {
          this.#body.push(Buffer.from(rest));
          return;
        }
        this.#body.push(Buffer.from(rest.subarray(0, end)));
        this.#trailer = Buffer.concat(this.#body);
        this.#body = undefined;
        rest = rest.subarray(end + 1);
        continue;
      }
      const marker = this.#marker && this.#trailer === undefined ? rest.indexOf(this.#marker) : -1;
      const newline = rest.indexOf(0x0a);
      if (marker >= 0 && (newline < 0 || marker < newline)) {
        this.#line.push(Buffer.from(rest.subarray(0, marker)));
        this.#flush();
        this.#body = [];
        rest = rest.subarray(marker + (this.#marker?.length ?? 0));
        continue;
      }
      if (newline < 0) {
        this.#line.push(Buffer.from(rest));
        return;
      }
      this.#line.push(Buffer.from(rest.subarray(0, newline + 1)));
      this.#flush();
      rest = rest.subarray(newline + 1);
    }
  }

  /** The stream ended: a line without its newline is passed on; an unclosed trailer is dropped. */
  end(): void {
    this.#flush();
    this.#body = undefined;
  }

  #flush(): void {
    for (const part of this.#line) this.#emit(part);
    this.#line = [];
  }
}

export interface NaiveTrailer {
  exitCode: number | null;
  signal: string | null;
  files: { path: string; content: Uint8Array }[];
  filesTruncated: boolean;
}

/**
 * DELIBERATELY NAIVE: a trailer body as JSON, or base64 of JSON (protocol 1's form),
 * believed as it is, field types only glanced at. Undefined when it is neither.
 */
export function naiveDecodeTrailer(body: Buffer): NaiveTrailer | undefined {
  for (const text of [body.toString('utf8'), Buffer.from(body.toString('ascii'), 'base64').toString('utf8')]) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    if (parsed === null || typeof parsed !== 'object') continue;
    const fields = parsed as { exitCode?: unknown; signal?: unknown; files?: unknown; filesTruncated?: unknown };
    const files = Array.isArray(fields.files)
      ? (fields.files as unknown[]).filter(
          (entry): entry is [string, string] =>
            Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string',
        )
      : [];
    return {
      exitCode: typeof fields.exitCode === 'number' ? fields.exitCode : null,
      signal: typeof fields.signal === 'string' ? fields.signal : null,
      files: files.map(([path, base64]) => ({ path, content: new Uint8Array(Buffer.from(base64, 'base64')) })),
      filesTruncated: fields.filesTruncated === true,
    };
  }
  return undefined;
}
