import { extname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { InvalidRequestError } from '../errors.js';
import type { NetworkPolicyInput } from '../network.js';
import type { ExecutionRequest, Language, WaivableGuarantee } from '../request.js';

/** `--network`'s values; `allow` is what `--allow` implies, and needs at least one `--allow`. */
export const NETWORK_FLAG_MODES = ['none', 'open', 'allow'] as const;
export type NetworkFlagMode = (typeof NETWORK_FLAG_MODES)[number];

/** The `cordon run` flags that shape the request (the rest steer the CLI itself). */
export interface RunRequestFlags {
  language?: Language;
  timeout?: number;
  memory?: number;
  env?: Record<string, string>;
  /** Undefined when not given: `none`, or `allow` when `--allow` is given. */
  network?: NetworkFlagMode;
  /** `--allow RULE`, in the order given. */
  allow?: string[];
  /** `--resolve NAME=ADDR[:PORT]`: test-only, exhaustive name → address override. */
  resolve?: Record<string, string>;
  auditLimit?: number;
  acceptUnenforced?: WaivableGuarantee[];
}

/**
 * The allow-list as `cordon run` writes it; core's request parsing validates every
 * rule, the resolve targets and the limit, naming `network.allow[i]` and the value.
 */
export interface AllowNetworkFlagsInput {
  mode: 'allow';
  allow: string[];
  auditLimit?: number;
  resolve?: Record<string, string>;
}

const EXTENSION_LANGUAGES: Record<string, Language> = {
  '.js': 'node',
  '.mjs': 'node',
  '.cjs': 'node',
  '.py': 'python',
  '.sh': 'bash',
  '.bash': 'bash',
};

/** The language `cordon run` uses: `--language`, else from the file extension, else node. */
export function languageFor(file: string, flag: Language | undefined): Language {
  return flag ?? EXTENSION_LANGUAGES[extname(file)] ?? 'node';
}

/**
 * The request `cordon run` sends, without the output listeners and signal (added by
 * the command). Validation of values stays with core (`parseExecutionRequest`).
 * @throws InvalidRequestError when the network flags contradict each other.
 */
export function runRequestFromFlags(params: {
  file: string;
  code: string;
  stdin?: Uint8Array;
  flags: RunRequestFlags;
}): ExecutionRequest {
  const { flags } = params;
  return {
    language: languageFor(params.file, flags.language),
    code: params.code,
    env: flags.env ?? {},
    network: networkFromFlags(flags),
    ...(params.stdin ? { stdin: params.stdin } : {}),
    ...(flags.acceptUnenforced ? { acceptUnenforced: flags.acceptUnenforced } : {}),
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    ...(flags.memory !== undefined ? { limits: { memoryBytes: flags.memory * 1024 * 1024 } } : {}),
  };
}

/**
 * `--network`, `--allow`, `--resolve` and `--audit-limit` as one network policy.
 * `--allow` means mode 'allow'; given beside `--network none|open` it is a
 * contradiction, refused rather than one of them silently winning.
 * @throws InvalidRequestError naming the flag and the value.
 */
export function networkFromFlags(flags: RunRequestFlags): NetworkPolicyInput {
  const allow = flags.allow ?? [];
  if (allow.length === 0) {
    if (flags.network === 'allow')
      throw new InvalidRequestError('--network', 'allow', 'needs at least one --allow RULE');
    if (flags.resolve !== undefined)
      throw new InvalidRequestError('--resolve', flags.resolve, 'applies only to an allow-list (give --allow RULE)');
    if (flags.auditLimit !== undefined)
      throw new InvalidRequestError(
        '--audit-limit',
        flags.auditLimit,
        'applies only to an allow-list (give --allow RULE)',
      );
    return flags.network ?? 'none';
  }
  if (flags.network !== undefined && flags.network !== 'allow')
    throw new InvalidRequestError(
      '--network',
      flags.network,
      `cannot be combined with --allow (--allow means network mode 'allow'; leave --network out, or drop --allow for network ${flags.network})`,
    );
  const policy: AllowNetworkFlagsInput = {
    mode: 'allow',
    allow: [...allow],
    ...(flags.auditLimit !== undefined ? { auditLimit: flags.auditLimit } : {}),
    ...(flags.resolve !== undefined ? { resolve: { ...flags.resolve } } : {}),
  };
  return policy satisfies NetworkPolicyInput;
}

/** Collects repeatable `--allow RULE` flags in order. */
export function collectRule(rule: string, previous: string[] = []): string[] {
  return [...previous, rule];
}

/**
 * Collects repeatable `--resolve NAME=ADDR[:PORT]` flags; a name given twice is refused
 * (the override is exhaustive: which address was meant would be a guess).
 */
export function collectResolve(pair: string, previous: Record<string, string> = {}): Record<string, string> {
  const index = pair.indexOf('=');
  if (index <= 0 || index === pair.length - 1)
    throw new InvalidArgumentError(
      `--resolve takes NAME=ADDR[:PORT] (e.g. api.example.com=127.0.0.1:8443), got "${pair}"`,
    );
  const name = pair.slice(0, index);
  if (Object.hasOwn(previous, name)) throw new InvalidArgumentError(`--resolve names ${name} twice`);
  return { ...previous, [name]: pair.slice(index + 1) };
}
