import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import picomatch from 'picomatch';
import { z } from 'zod';
import {
  MAX_COLLECT_DEPTH,
  MAX_COLLECT_ENTRIES,
  MAX_COLLECT_LISTING_BYTES,
  MAX_COLLECTED_FILES,
  MAX_COLLECTED_PATH_BYTES,
  patternForms,
} from './collected-files.js';
import { BackendFailureError } from '../errors.js';
import { MAX_FILES_BYTES, type NormalizedRequest } from '../request.js';
import type { CollectedFile } from '../result.js';

/**
 * Protocol 3 of the cordon runtime image's runner (images/runtime/runner), spoken by
 * the docker and k8s backends. In, on the container's stdin: a 4-byte big-endian
 * length, that many bytes of JSON (`encodePayload`), then exactly `stdinBytes` bytes,
 * the program's stdin, which the supervisor hands on through a pipe of its own and
 * closes. The host then keeps the stream open until it has the trailer: it is the
 * host's liveness, and its end before the trailer (the host process died or gave up)
 * makes the supervisor kill the program and exit, so no container outlives its owner
 * for long. Out: the program's output as is, then a trailer on each stream:
 *   stdout: "\0cordon:<nonce>:\0"
 *   stderr: "\0cordon:<nonce>:" + JSON { exitCode, signal, files, filesTruncated, warnings } + "\0"
 *
 * Why the trailer is authentic: it is written by the image's supervisor, a root
 * process holding only CAP_SETUID, CAP_SETGID and CAP_KILL, while the program runs
 * as a separate process under another uid. That uid cannot read the supervisor's
 * memory (/proc/<pid>/mem, ptrace and process_vm_readv need the same uid or
 * CAP_SYS_PTRACE), signal it, or obtain its descriptors; the nonce is per execution
 * and exists only in host memory and the supervisor's. The exit status in the
 * trailer is the supervisor's waitpid (or, for a node program that ends normally,
 * the code its own process declares as its last act, bound before the program ran:
 * the one it exits with); files are collected after every process of the sandbox
 * uid is gone. The host still treats the trailer as untrusted input:
 * every byte is bounded (`TrailerScanner`), every field checked (`decodeTrailer`),
 * and every path re-checked (core's `checkCollectedFiles`).
 */
export const RUNNER_PROTOCOL = '3';

/** Path bytes (JSON-encoded) the collected files' names may take in one trailer: core's cap on every backend. */
export const MAX_TRAILER_PATH_BYTES = MAX_COLLECTED_PATH_BYTES;
/** Warnings one trailer may carry, and characters per warning. */
export const MAX_TRAILER_WARNINGS = 32;
export const MAX_TRAILER_WARNING_CHARS = 1000;

/**
 * What the supervisor may collect for one request, core's collection constants (the same
 * spawn's runner uses); the host holds the trailer to the same.
 */
export interface CollectionBounds {
  maxBytes: number;
  maxFiles: number;
  maxDepth: number;
  maxPathBytes: number;
  /** Directory entries the walk looks at; past them it stops, truncated. */
  maxEntries: number;
  /** Bytes of relative paths the walk lists; past them it stops, truncated. */
  maxListingBytes: number;
}

export function collectionBounds(request: Pick<NormalizedRequest, 'limits'>): CollectionBounds {
  return {
    // Collected files come back inside the trailer; bounded like the files a request may send.
    maxBytes: Math.min(MAX_FILES_BYTES, request.limits.diskBytes),
    maxFiles: MAX_COLLECTED_FILES,
    maxDepth: MAX_COLLECT_DEPTH,
    maxPathBytes: MAX_TRAILER_PATH_BYTES,
    maxEntries: MAX_COLLECT_ENTRIES,
    maxListingBytes: MAX_COLLECT_LISTING_BYTES,
  };
}

/** One compiled pattern form: the glob (picomatch also accepts an exact match) and its regular expression. */
export type PatternForm = readonly [glob: string, source: string, flags: string];

/**
 * `collectFiles` patterns as regular expressions, built exactly as core's
 * `collectMatcher` builds its matcher (a pattern names a file or, naming a directory,
 * everything under it; dotfiles match; `!` excludes), so the supervisor, which has
 * no glob library, selects what the host's re-check keeps.
 */
export function collectPatternForms(patterns: readonly string[]): { include: PatternForm[]; exclude: PatternForm[] } {
  const include: PatternForm[] = [];
  const exclude: PatternForm[] = [];
  for (const pattern of patterns) {
    const { negated, forms } = patternForms(pattern);
    for (const form of forms) {
      const regex = picomatch.makeRe(form, { dot: true });
      (negated ? exclude : include).push([form, regex.source, regex.flags]);
    }
  }
  return { include, exclude };
}

/** A fresh per-execution nonce for the trailer marker. */
export function newRunnerNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The payload header; the program's stdin bytes follow it on the same stream. */
export function encodePayload(request: NormalizedRequest, nonce: string): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      v: Number(RUNNER_PROTOCOL),
      nonce,
      language: request.language,
      code: request.code,
      env: request.env,
      files: [...request.files].map(([path, content]) => [path, Buffer.from(content).toString('base64')]),
      collect: collectPatternForms(request.collectFiles),
      bounds: collectionBounds(request),
      stdinBytes: request.stdin?.byteLength ?? 0,
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

/** JSON around each file entry: `["",""],`. */
const FILE_ENTRY_OVERHEAD_BYTES = 8;
/** The fixed keys and values of the trailer body. */
const TRAILER_FIXED_BYTES = 256;

/** The most bytes a valid stderr trailer body can have under `bounds`: what the host may buffer. */
export function maxTrailerBodyBytes(bounds: CollectionBounds): number {
  const contentBytes = Math.ceil(bounds.maxBytes / 3) * 4;
  // A warning character JSON-escapes to at most 6 bytes (\uXXXX).
  const warningBytes = MAX_TRAILER_WARNINGS * (MAX_TRAILER_WARNING_CHARS * 6 + 3);
  return (
    contentBytes +
    bounds.maxPathBytes +
    bounds.maxFiles * FILE_ENTRY_OVERHEAD_BYTES +
    warningBytes +
    TRAILER_FIXED_BYTES
  );
}

const SIGNAL_NAMES = Object.keys(constants.signals) as [string, ...string[]];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function trailerSchema(bounds: CollectionBounds) {
  return z
    .strictObject({
      exitCode: z.number().int().min(0).max(255).nullable(),
      signal: z.enum(SIGNAL_NAMES).nullable(),
      files: z.array(z.tuple([z.string(), z.string().regex(BASE64, 'must be base64')])).max(bounds.maxFiles),
      filesTruncated: z.boolean(),
      warnings: z.array(z.string().max(MAX_TRAILER_WARNING_CHARS)).max(MAX_TRAILER_WARNINGS),
    })
    .refine(
      (trailer) => (trailer.exitCode === null) !== (trailer.signal === null),
      'exactly one of exitCode and signal must be set',
    );
}

export interface RunnerTrailer {
  exitCode: number | null;
  signal: string | null;
  files: CollectedFile[];
  filesTruncated: boolean;
  warnings: string[];
}

export type DecodedTrailer = { ok: true; trailer: RunnerTrailer } | { ok: false; problem: string };

/** Checks and decodes the stderr trailer body: every field typed and within `bounds`. */
export function decodeTrailer(body: Buffer, bounds: CollectionBounds): DecodedTrailer {
  const maxBytes = maxTrailerBodyBytes(bounds);
  if (body.byteLength > maxBytes)
    return { ok: false, problem: `trailer body of ${body.byteLength} bytes is over its bound of ${maxBytes} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return { ok: false, problem: `trailer body is not JSON (${(error as Error).message})` };
  }
  const result = trailerSchema(bounds).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      ok: false,
      problem: `trailer field ${issue?.path.join('.') || '(body)'} is invalid: ${issue?.message ?? 'unknown'}`,
    };
  }
  const { exitCode, signal, files, filesTruncated, warnings } = result.data;
  const fileBytes = files.reduce((sum, [, base64]) => sum + base64DecodedLength(base64), 0);
  if (fileBytes > bounds.maxBytes)
    return {
      ok: false,
      problem: `trailer files hold ${fileBytes} bytes, over the ${bounds.maxBytes}-byte collection bound`,
    };
  return {
    ok: true,
    trailer: {
      exitCode,
      signal,
      files: files.map(([path, content]) => ({ path, content: new Uint8Array(Buffer.from(content, 'base64')) })),
      filesTruncated,
      warnings,
    },
  };
}

function base64DecodedLength(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

/** The runner's trailer broke the protocol (over a bound, malformed): the run ends closed. */
export class RunnerTrailerError extends BackendFailureError {
  override name = 'RunnerTrailerError';
  readonly problem: string;

  constructor(backend: string, problem: string, context: { executionId?: string } & Record<string, unknown> = {}) {
    super(backend, `the runner's result broke protocol ${RUNNER_PROTOCOL}: ${problem}; the sandbox was removed`, {
      ...context,
      problem,
    });
    this.problem = problem;
  }
}

export interface TrailerScannerOptions {
  nonce: string;
  /** Body bytes buffered at most; past them the scanner stops buffering and reports `overflowed`. */
  maxBodyBytes: number;
  /** Receives every byte before the trailer (the program's output). */
  emit: (chunk: Buffer) => void;
}

/**
 * Finds the runner's end-of-run trailer in one output stream while passing every
 * byte before it through, so the host can return as soon as the program is done
 * instead of waiting for the container to be torn down.
 *
 * The trailer is `\0cordon:<nonce>:<body>\0` (the body is empty on stdout and JSON on
 * stderr). A possible partial marker at the end of a chunk is held back until the
 * next chunk decides it. The body is buffered only up to `maxBodyBytes`.
 */
export class TrailerScanner {
  readonly #marker: Buffer;
  readonly #emit: (chunk: Buffer) => void;
  readonly #maxBodyBytes: number;
  #held: Buffer = Buffer.alloc(0);
  #body: Buffer[] | undefined;
  #bodyBytes = 0;
  #done = false;
  #overflowed = false;

  constructor(options: TrailerScannerOptions) {
    this.#marker = Buffer.from(`\0cordon:${options.nonce}:`);
    this.#emit = options.emit;
    this.#maxBodyBytes = options.maxBodyBytes;
  }

  /** True once the whole trailer (up to its closing NUL) has arrived. */
  get done(): boolean {
    return this.#done;
  }

  /** True when the body passed `maxBodyBytes`; nothing more is buffered. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  get maxBodyBytes(): number {
    return this.#maxBodyBytes;
  }

  /** The trailer's body once `done`. */
  get body(): Buffer | undefined {
    return this.#done && this.#body ? Buffer.concat(this.#body) : undefined;
  }

  push(chunk: Buffer): void {
    if (this.#done || this.#overflowed) return;
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
    const part = end < 0 ? chunk : chunk.subarray(0, end);
    if (this.#bodyBytes + part.length > this.#maxBodyBytes) {
      this.#overflowed = true;
      this.#body = [];
      return;
    }
    this.#bodyBytes += part.length;
    this.#body?.push(Buffer.from(part));
    if (end >= 0) this.#done = true;
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

export type RunnerStream = 'stdout' | 'stderr';

export interface RunnerOutputOptions {
  nonce: string;
  bounds: CollectionBounds;
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
}

/** Where the two trailers stand: waiting, both arrived, or one over its bound. */
export type RunnerOutputState = 'pending' | 'complete' | 'overflow';

/**
 * Both output streams of one run, each scanned for its trailer with its own bound
 * (stdout's trailer has no body at all), so a backend only pushes chunks and asks
 * for the state.
 */
export class RunnerOutput {
  readonly #stdout: TrailerScanner;
  readonly #stderr: TrailerScanner;
  readonly #bounds: CollectionBounds;

  constructor(options: RunnerOutputOptions) {
    this.#bounds = options.bounds;
    this.#stdout = new TrailerScanner({ nonce: options.nonce, maxBodyBytes: 0, emit: options.stdout });
    this.#stderr = new TrailerScanner({
      nonce: options.nonce,
      maxBodyBytes: maxTrailerBodyBytes(options.bounds),
      emit: options.stderr,
    });
  }

  push(stream: RunnerStream, chunk: Buffer): RunnerOutputState {
    (stream === 'stdout' ? this.#stdout : this.#stderr).push(chunk);
    return this.state;
  }

  /** The streams ended: held-back bytes were output after all. */
  end(): void {
    this.#stdout.end();
    this.#stderr.end();
  }

  get state(): RunnerOutputState {
    if (this.#stdout.overflowed || this.#stderr.overflowed) return 'overflow';
    return this.#stdout.done && this.#stderr.done ? 'complete' : 'pending';
  }

  /** Why the output broke the protocol, for a state of `overflow`. */
  get overflowProblem(): string {
    return this.#stdout.overflowed
      ? 'the stdout trailer carries a body, which it never does'
      : `the stderr trailer passed its bound of ${this.#stderr.maxBodyBytes} bytes (base64 of the ${this.#bounds.maxBytes}-byte collection bound plus paths and warnings)`;
  }

  /** The decoded trailer once `complete`; otherwise, or when invalid, why not. */
  decode(): DecodedTrailer {
    const body = this.#stderr.body;
    if (this.state !== 'complete' || !body) return { ok: false, problem: 'no complete trailer' };
    return decodeTrailer(body, this.#bounds);
  }
}
