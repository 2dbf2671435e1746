import { z } from 'zod';
import { InvalidRequestError } from './errors.js';
import { LIMIT_NAMES, type LimitName } from './limits.js';
import { networkInputSchema, type NetworkPolicy, type NetworkPolicyInput } from './network.js';

export const LANGUAGES = ['node', 'python', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

const MiB = 1024 * 1024;

/** Defaults applied to every request; units are in the names. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_LIMITS = {
  memoryBytes: 512 * MiB,
  cpus: 1,
  pids: 256,
  outputBytes: 1 * MiB,
  diskBytes: 64 * MiB,
} as const satisfies Record<LimitName, number>;

/** Hard caps on what a request may carry, independent of any backend. */
export const MAX_CODE_BYTES = 4 * MiB;
export const MAX_FILES_BYTES = 32 * MiB;
export const MAX_FILE_COUNT = 1_000;
export const MAX_COLLECT_PATTERNS = 100;
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Guarantees a caller may explicitly accept as not enforced (see `acceptUnenforced`). */
export const WAIVABLE_GUARANTEES = ['network', ...LIMIT_NAMES] as const;
export type WaivableGuarantee = (typeof WAIVABLE_GUARANTEES)[number];

export type OutputListener = (chunk: string) => void;

/** What a caller passes to `Executor.execute`. */
export interface ExecutionRequest {
  language: Language;
  code: string;
  /** Bytes or text fed to the program's standard input, then closed. */
  stdin?: string | Uint8Array;
  /** The only variables the code sees, besides a minimal `PATH` and `HOME` set by the backend. */
  env?: Record<string, string>;
  /** Relative path → content, placed in the working directory before the run. */
  files?: Record<string, string | Uint8Array>;
  /** Relative paths or globs read back from the working directory after the run. */
  collectFiles?: readonly string[];
  /** Wall-clock limit; the whole process tree is killed when it passes. @default 30000 */
  timeoutMs?: number;
  limits?: Partial<ExecutionLimits>;
  /** @default 'none' */
  network?: NetworkPolicyInput;
  /**
   * Guarantees the caller accepts to run without when the backend cannot enforce
   * them (`true` for all). Without this, such a request is refused.
   */
  acceptUnenforced?: true | readonly WaivableGuarantee[];
  /** Free-form tags copied to the executor's start/end events, for logging and metering. */
  tags?: Record<string, string>;
  onStdout?: OutputListener;
  onStderr?: OutputListener;
  signal?: AbortSignal;
}

export interface ExecutionLimits {
  /** @default 512 MiB */
  memoryBytes: number;
  /** @default 1 */
  cpus: number;
  /** Maximum number of processes and threads. @default 256 */
  pids: number;
  /** Per stream; output past it is discarded as it arrives and flagged. @default 1 MiB */
  outputBytes: number;
  /** Writable working directory and `/tmp`. @default 64 MiB */
  diskBytes: number;
}

/** A request after validation, with every default applied. Backends receive this. */
export interface NormalizedRequest {
  language: Language;
  code: string;
  stdin: Uint8Array | undefined;
  env: Record<string, string>;
  files: ReadonlyMap<string, Uint8Array>;
  collectFiles: readonly string[];
  timeoutMs: number;
  limits: ExecutionLimits;
  network: NetworkPolicy;
  acceptUnenforced: ReadonlySet<WaivableGuarantee>;
  tags: Record<string, string>;
  onStdout: OutputListener | undefined;
  onStderr: OutputListener | undefined;
  signal: AbortSignal | undefined;
}

const bytesSchema = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes (Uint8Array)');
const listenerSchema = z.custom<OutputListener>((value) => typeof value === 'function', 'expected a function');
const signalSchema = z.custom<AbortSignal>((value) => value instanceof AbortSignal, 'expected an AbortSignal');

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The longest file name (one path segment) Linux filesystems take, in bytes. */
export const MAX_NAME_BYTES = 255;
/** The longest relative path accepted, in bytes (PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

/**
 * Checks a plain relative path under the working directory (a file in `files`, a
 * pattern in `collectFiles`); returns why it is bad, or undefined. A leading `./` is
 * allowed; `.`, `a/`, `a//b`, `..`, absolute paths and over-long names are not, so
 * what a backend receives is always a normalised path it can use as is.
 */
export function relativePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'must not be empty';
  if (path.includes('\0')) return 'must not contain NUL';
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path))
    return 'must be relative to the working directory';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  const segments = stripDotSlash(path).split(/[\\/]/);
  if (segments.includes('..')) return 'must not contain ".."';
  if (segments.length === 1 && segments[0] === '') return 'must name a file, not the working directory itself';
  if (segments.includes('.')) return 'must not contain "." segments';
  if (segments.at(-1) === '')
    return 'must not end with "/" (name the file, or add "/**" for everything under a directory)';
  if (segments.includes('')) return 'must not contain empty segments ("//")';
  const long = segments.find((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES);
  if (long !== undefined) return `has a name longer than ${MAX_NAME_BYTES} bytes (${Buffer.byteLength(long)})`;
  return undefined;
}

function stripDotSlash(path: string): string {
  let rest = path;
  while (rest.startsWith('./') || rest.startsWith('.\\')) rest = rest.slice(2);
  return rest;
}

/** A valid relative path in its one normal form: `/`-separated, no leading `./`. */
export function normalizeRelativePath(path: string): string {
  return stripDotSlash(path).split(/[\\/]/).join('/');
}

const limitsSchema = z.strictObject({
  memoryBytes: z
    .number()
    .int()
    .min(16 * MiB, 'must be at least 16 MiB')
    .max(1024 * 1024 * MiB)
    .default(DEFAULT_LIMITS.memoryBytes),
  cpus: z.number().positive().max(1024).default(DEFAULT_LIMITS.cpus),
  pids: z.number().int().min(8, 'must be at least 8').max(1_000_000).default(DEFAULT_LIMITS.pids),
  outputBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * MiB)
    .default(DEFAULT_LIMITS.outputBytes),
  diskBytes: z
    .number()
    .int()
    .min(1 * MiB, 'must be at least 1 MiB')
    .max(1024 * 1024 * MiB)
    .default(DEFAULT_LIMITS.diskBytes),
});

const requestSchema = z.strictObject({
  language: z.enum(LANGUAGES),
  code: z
    .string()
    .refine((code) => Buffer.byteLength(code) <= MAX_CODE_BYTES, `must be at most ${MAX_CODE_BYTES} bytes`),
  stdin: z.union([z.string(), bytesSchema]).optional(),
  env: z
    .record(
      z.string().regex(ENV_NAME, 'must be a valid environment variable name'),
      z.string().refine((v) => !v.includes('\0'), 'must not contain NUL'),
    )
    .default({}),
  files: z
    .record(z.string(), z.union([z.string(), bytesSchema]))
    .superRefine((files, ctx) => {
      const entries = Object.keys(files);
      if (entries.length > MAX_FILE_COUNT)
        ctx.addIssue({ code: 'custom', message: `must hold at most ${MAX_FILE_COUNT} files` });
      const normalized = new Map<string, string>();
      for (const path of entries) {
        const problem = relativePathProblem(path);
        if (problem) {
          ctx.addIssue({ code: 'custom', path: [path], message: `path ${problem}`, params: { value: path } });
          continue;
        }
        const plain = normalizeRelativePath(path);
        const twin = normalized.get(plain);
        if (twin !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [path],
            message: `path names the same file as "${twin}"`,
            params: { value: path },
          });
        normalized.set(plain, path);
      }
      // A file cannot also be a directory of another file ("a" and "a/b").
      for (const [plain, path] of normalized) {
        for (let at = plain.indexOf('/'); at >= 0; at = plain.indexOf('/', at + 1)) {
          const parent = normalized.get(plain.slice(0, at));
          if (parent !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [path],
              message: `path needs "${parent}" to be a directory, but it is also given as a file`,
              params: { value: path },
            });
        }
      }
    })
    .default({}),
  collectFiles: z
    .array(
      z.string().superRefine((pattern, ctx) => {
        const problem = relativePathProblem(pattern);
        if (problem) ctx.addIssue({ code: 'custom', message: `pattern ${problem}` });
      }),
    )
    .max(MAX_COLLECT_PATTERNS)
    .default([]),
  timeoutMs: z.number().int().positive().max(MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
  limits: limitsSchema.prefault({}),
  network: networkInputSchema.default({ mode: 'none' }),
  acceptUnenforced: z.union([z.literal(true), z.array(z.enum(WAIVABLE_GUARANTEES))]).optional(),
  tags: z.record(z.string(), z.string()).default({}),
  onStdout: listenerSchema.optional(),
  onStderr: listenerSchema.optional(),
  signal: signalSchema.optional(),
});

/**
 * Validates a request at the boundary and applies defaults.
 * @throws InvalidRequestError naming the first bad field and its value.
 */
export function parseExecutionRequest(input: unknown): NormalizedRequest {
  const parsed = requestSchema.safeParse(input);
  if (!parsed.success) throw toInvalidRequestError(parsed.error, input);
  const request = parsed.data;

  const files = new Map<string, Uint8Array>();
  let filesBytes = 0;
  for (const [path, content] of Object.entries(request.files)) {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    filesBytes += bytes.byteLength;
    files.set(normalizeRelativePath(path), bytes);
  }
  const filesCap = Math.min(MAX_FILES_BYTES, request.limits.diskBytes);
  if (filesBytes > filesCap) {
    throw new InvalidRequestError(
      'files',
      `${filesBytes} bytes`,
      `total size must be at most ${filesCap} bytes (min of ${MAX_FILES_BYTES} and limits.diskBytes)`,
    );
  }

  return {
    language: request.language,
    code: request.code,
    stdin: typeof request.stdin === 'string' ? Buffer.from(request.stdin, 'utf8') : request.stdin,
    env: request.env,
    files,
    collectFiles: request.collectFiles.map(stripDotSlash),
    timeoutMs: request.timeoutMs,
    limits: request.limits,
    network: request.network,
    acceptUnenforced: new Set(
      request.acceptUnenforced === true ? WAIVABLE_GUARANTEES : (request.acceptUnenforced ?? []),
    ),
    tags: request.tags,
    onStdout: request.onStdout,
    onStderr: request.onStderr,
    signal: request.signal,
  };
}

/** Turns the first zod issue into an error naming the dotted field and the value found there. */
export function toInvalidRequestError(error: z.ZodError, input: unknown, prefix = ''): InvalidRequestError {
  const issue = error.issues[0];
  if (!issue) return new InvalidRequestError(prefix || 'request', input, 'is invalid');
  let path = issue.path.map(String);
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    path = [...path, key];
    reason = 'is not a known field';
  }
  // zod 4 leaves `input` out of issues; a bad record key names the key itself as the value.
  const keyValue =
    issue.code === 'invalid_key'
      ? path.at(-1)
      : issue.code === 'custom'
        ? (issue.params as { value?: unknown } | undefined)?.value
        : undefined;
  const value = keyValue ?? valueAt(input, path);
  const field = [prefix, ...path].filter(Boolean).join('.') || 'request';
  return new InvalidRequestError(field, value, reason);
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
