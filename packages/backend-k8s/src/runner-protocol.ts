import { randomBytes } from 'node:crypto';
import type { CollectedFile, Language, NormalizedRequest } from '@cordon/core';
import { z } from 'zod';

/**
 * Protocol 1 of the cordon runtime image's runner (images/runtime/runner), the same
 * one the docker backend speaks. In, on the runner's stdin: a 4-byte big-endian
 * length, that many bytes of JSON, then the program's own stdin until EOF. Out: the
 * program's output as is, then a trailer on each stream:
 *   stdout: "\0cordon:<nonce>:\0"
 *   stderr: "\0cordon:<nonce>:" + base64(JSON { exitCode, signal, files, filesTruncated }) + "\0"
 * The nonce is per execution, so a program cannot forge the trailer.
 */
export const RUNNER_PROTOCOL = '1';

/** The tmpfs working directory (HOME) inside the pod, owned by the image's user. */
export const WORK_DIR = '/workspace';

/** Which booted runner serves a language: node runs node in-process and bash as a child. */
export type RunnerKind = 'node' | 'python';

export function runnerKindFor(language: Language): RunnerKind {
  return language === 'python' ? 'python' : 'node';
}

/** The pod's command: tini as PID 1 (forwards SIGTERM, reaps orphans) in front of the runner. */
export const RUNNER_COMMANDS: Readonly<Record<RunnerKind, readonly string[]>> = {
  node: ['/usr/bin/tini', '-s', '--', 'node', '/opt/cordon/runner/runner.cjs'],
  python: ['/usr/bin/tini', '-s', '--', 'python3', '-u', '/opt/cordon/runner/runner.py'],
};

export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The payload header; the program's stdin bytes follow it on the same stream. */
export function encodePayload(request: NormalizedRequest, nonce: string, collectMaxBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify({
    v: 1,
    nonce,
    language: request.language,
    code: request.code,
    env: request.env,
    files: [...request.files].map(([path, content]) => [path, Buffer.from(content).toString('base64')]),
    collect: request.collectFiles,
    collectMaxBytes,
  }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.byteLength, 0);
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
 * Passes one output stream through until the runner's trailer, which it strips and
 * keeps. A possible partial marker at the end of a chunk is held back until the
 * next chunk decides it.
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
    const data = this.#held.byteLength > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    const at = data.indexOf(this.#marker);
    if (at >= 0) {
      if (at > 0) this.#emit(data.subarray(0, at));
      this.#held = Buffer.alloc(0);
      this.#body = [];
      this.#takeBody(data.subarray(at + this.#marker.byteLength));
      return;
    }
    const keep = this.#partialMarkerLength(data);
    if (data.byteLength > keep) this.#emit(data.subarray(0, data.byteLength - keep));
    this.#held = Buffer.from(data.subarray(data.byteLength - keep));
  }

  /** The stream ended without a trailer: what was held back was program output. */
  end(): void {
    if (!this.#body && this.#held.byteLength > 0) this.#emit(this.#held);
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

  #partialMarkerLength(data: Buffer): number {
    const max = Math.min(this.#marker.byteLength - 1, data.byteLength);
    for (let length = max; length > 0; length--) {
      if (data.subarray(data.byteLength - length).equals(this.#marker.subarray(0, length))) return length;
    }
    return 0;
  }
}
