import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MAX_FILES_BYTES, type NormalizedRequest } from './request.js';
import type { CollectedFile } from './result.js';

/**
 * Protocol 1 of the cordon runtime image's runner (images/runtime/runner), spoken by
 * the docker and k8s backends. In, on the runner's stdin: a 4-byte big-endian length,
 * that many bytes of JSON, then the program's own stdin until EOF. Out: the program's
 * output as is, then a trailer on each stream:
 *   stdout: "\0cordon:<nonce>:\0"
 *   stderr: "\0cordon:<nonce>:" + base64(JSON { exitCode, signal, files, filesTruncated }) + "\0"
 * The nonce is per execution, so a program cannot forge the trailer.
 */
export const RUNNER_PROTOCOL = '1';

/** A fresh per-execution nonce for the trailer marker. */
export function newRunnerNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The payload header; the program's stdin bytes follow it on the same stream. */
export function encodePayload(request: NormalizedRequest, nonce: string, collectMaxBytes = Math.min(MAX_FILES_BYTES, request.limits.diskBytes)): Buffer {
  const json = Buffer.from(JSON.stringify({
    v: 1,
    nonce,
    language: request.language,
    code: request.code,
    env: request.env,
    files: [...request.files].map(([path, content]) => [path, Buffer.from(content).toString('base64')]),
    collect: request.collectFiles,
    // Collected files come back inside the trailer; bounded like the files a request may send.
    collectMaxBytes,
  }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

const trailerSchema = z.object({
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  files: z.array(z.tuple([z.string(), z.string()])),
  filesTruncated: z.boolean(),
});

export interface RunnerTrailer {
  exitCode: number | null;
  signal: string | null;
  files: CollectedFile[];
  filesTruncated: boolean;
}

/** Decodes the stderr trailer body; undefined when it is not a valid one. */
export function decodeTrailer(body: Buffer): RunnerTrailer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.toString('ascii'), 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const result = trailerSchema.safeParse(parsed);
  if (!result.success) return undefined;
  return {
    exitCode: result.data.exitCode,
    signal: result.data.signal,
    files: result.data.files.map(([path, content]) => ({ path, content: new Uint8Array(Buffer.from(content, 'base64')) })),
    filesTruncated: result.data.filesTruncated,
  };
}

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
