import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseExecutionRequest, type ExecutionRequest } from '@cordon/core';
import {
  collectionBounds,
  DEFAULT_RUNTIME_IMAGE,
  collectPatternForms,
  newRunnerNonce,
  RunnerOutput,
  type RunnerTrailer,
} from '@cordon/core/backend';

/**
 * Drives an in-container supervisor (images/runtime/runner/supervisor.cjs or
 * supervisor.py) directly over `docker run -i`, speaking runner protocol 3 itself, so
 * the supervisor is tested apart from the host backends. The worktree's runner
 * directory is bind-mounted read-only over /opt/cordon/runner (test only), and PID 1
 * is docker's --init, as in a user's own image.
 */

export const RUNTIME_IMAGE = DEFAULT_RUNTIME_IMAGE;
export const TEST_LABEL = 'cordon.dev/test=pysup';
export const PROGRAM_UID = 10001;
const RUNNER_DIR = fileURLToPath(new URL('../../../../images/runtime/runner', import.meta.url));

export type SupervisorFlavour = 'cjs' | 'py';
export type RunnerKind = 'node' | 'python';

export interface SupervisorParams {
  flavour: SupervisorFlavour;
  kind: RunnerKind;
  /** Extra supervisor flags (e.g. --nproc). */
  args?: string[];
  /** docker run options before the image (e.g. --runtime runsc, mounts hiding tools). */
  dockerArgs?: string[];
}

/** One supervisor container, its output gathered raw. */
export interface SupervisorContainer {
  readonly name: string;
  readonly process: ChildProcess;
  readonly stdout: () => Buffer;
  readonly stderr: () => Buffer;
  /** The container's exit code (docker run's), once it exited. */
  readonly exited: Promise<number | null>;
  write(bytes: Buffer): void;
  endStdin(): void;
}

export function startSupervisor(params: SupervisorParams): SupervisorContainer {
  const name = `cordon-pysup-${randomBytes(6).toString('hex')}`;
  const interpreter =
    params.flavour === 'cjs' ? ['/usr/local/bin/node', '--v8-pool-size=1'] : ['/usr/bin/python3', '-I', '-S'];
  const args = [
    'run',
    '-i',
    '--rm',
    '--init',
    '--name',
    name,
    '--label',
    TEST_LABEL,
    '--user',
    '0:0',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'SETUID',
    '--cap-add',
    'SETGID',
    '--cap-add',
    'KILL',
    '--security-opt',
    'no-new-privileges',
    '--network',
    'none',
    '--read-only',
    '--tmpfs',
    `/workspace:rw,nosuid,nodev,noexec,uid=${PROGRAM_UID},gid=${PROGRAM_UID},mode=0700`,
    '--tmpfs',
    '/tmp',
    '-v',
    `${RUNNER_DIR}:/opt/cordon/runner:ro`,
    ...(params.dockerArgs ?? []),
    '--entrypoint',
    interpreter[0]!,
    RUNTIME_IMAGE,
    ...interpreter.slice(1),
    `/opt/cordon/runner/supervisor.${params.flavour}`,
    '--kind',
    params.kind,
    '--uid',
    String(PROGRAM_UID),
    ...(params.args ?? []),
  ];
  const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    name,
    process: child,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
    exited,
    write: (bytes) => child.stdin.write(bytes),
    endStdin: () => child.stdin.end(),
  };
}

/** Runner protocol 3's payload: encodePayload's fields, v 3 and stdinBytes. */
export function encodePayloadV3(request: ExecutionRequest, nonce: string, stdinBytes: number): Buffer {
  const normalized = parseExecutionRequest(request);
  const json = Buffer.from(
    JSON.stringify({
      v: 3,
      nonce,
      language: normalized.language,
      code: normalized.code,
      env: normalized.env,
      files: [...normalized.files].map(([path, content]) => [path, Buffer.from(content).toString('base64')]),
      collect: collectPatternForms(normalized.collectFiles),
      bounds: collectionBounds(normalized),
      stdinBytes,
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

export interface RunParams extends SupervisorParams {
  request: ExecutionRequest;
  stdin?: Buffer;
  /** Bytes sent after the stdin, which the program must never see. */
  extra?: Buffer;
  timeoutMs?: number;
  /** Leave fd 0 open after the trailer (until the container exits or timeoutMs), to see the container exit on its own. */
  keepStdinOpen?: boolean;
}

export interface RunResult {
  containerExit: number | null;
  /** The program's output before the trailer. */
  stdout: Buffer;
  stderr: Buffer;
  trailer: RunnerTrailer | undefined;
  problem: string | undefined;
  /** Raw stderr of the container (supervisor failures show here). */
  rawStderr: Buffer;
}

/** One run as a host would: payload and stdin in, fd 0 kept open until both trailers arrived, then ended. */
export async function runSupervisor(params: RunParams): Promise<RunResult> {
  const container = startSupervisor(params);
  const nonce = newRunnerNonce();
  const stdin = params.stdin ?? Buffer.alloc(0);
  const normalized = parseExecutionRequest(params.request);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const output = new RunnerOutput({
    nonce,
    bounds: collectionBounds(normalized),
    stdout: (chunk) => stdout.push(chunk),
    stderr: (chunk) => stderr.push(chunk),
  });
  const complete = new Promise<void>((resolve) => {
    const check = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      if (output.push(stream, chunk) !== 'pending') resolve();
    };
    container.process.stdout!.on('data', check('stdout'));
    container.process.stderr!.on('data', check('stderr'));
    void container.exited.then(() => resolve());
  });
  container.write(
    Buffer.concat([encodePayloadV3(params.request, nonce, stdin.length), stdin, params.extra ?? Buffer.alloc(0)]),
  );
  const timer = setTimeout(() => container.endStdin(), params.timeoutMs ?? 30_000);
  try {
    await complete;
    if (!params.keepStdinOpen) container.endStdin();
    const containerExit = await container.exited;
    output.end();
    const decoded = output.decode();
    return {
      containerExit,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
      trailer: decoded.ok ? decoded.trailer : undefined,
      problem: decoded.ok ? undefined : decoded.problem,
      rawStderr: container.stderr(),
    };
  } finally {
    clearTimeout(timer);
    removeContainer(container.name);
  }
}

export function removeContainer(name: string): void {
  spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
}

/** Every container this suite labelled, removed (the leak check looks at the same label only). */
export function removeLabelled(): string[] {
  const listed = spawnSync('docker', ['ps', '-aq', '--filter', `label=${TEST_LABEL}`], { encoding: 'utf8' });
  const ids = listed.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) spawnSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  return ids;
}
