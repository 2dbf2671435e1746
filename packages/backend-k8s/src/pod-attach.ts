import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { BackendFailureError, type NormalizedRequest } from '@cordon/core';
import type { V1Status } from '@kubernetes/client-node';
// Not in the package's index; the package has no exports map, so the file is importable.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import { messageOf, type KubeApi } from './kube-api.js';
import { BACKEND_NAME, SANDBOX_CONTAINER } from './manifests.js';
import { collectionBounds, debug, ignored, RunnerOutput, type RunnerTrailer } from '@cordon/core/backend';

/** The part of the `ws` socket used here (the client's own type comes from a package it does not expose). */
interface Socket {
  readonly protocol: string;
  send(data: Buffer): void;
  close(): void;
  on(event: 'close' | 'error', listener: () => void): unknown;
}

/** Bigger websocket messages than this are split; the request frame may be tens of MiB. */
const STDIN_MESSAGE_BYTES = 1024 * 1024;
/** Stderr kept for the report of a run that ends without a result. */
const DIAGNOSTIC_BYTES = 4096;
/**
 * The largest websocket message taken from the API server: its stream translator
 * relays the pod's output in reads of 32 KiB. `ws` would otherwise buffer up to 100 MiB
 * per message before handing it over.
 */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** A status frame (channel 3) is a small V1Status; a bigger one is not parsed. */
const MAX_STATUS_BYTES = 64 * 1024;

/** The `ws` WebSocket the client itself uses (isomorphic-ws in Node), to set maxPayload on it. */
const WebSocketClass = createRequire(createRequire(import.meta.url).resolve('@kubernetes/client-node'))('ws') as new (
  url: string,
  protocols: string | string[],
  options: object,
) => Socket;

export interface AttachSinks {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
}

/** How an attach session ended. */
export type AttachOutcome =
  /** The supervisor sent its trailers. */
  | { kind: 'result'; result: RunnerTrailer }
  /** A trailer over its bound, or malformed: the run must end closed. */
  | { kind: 'broken'; problem: string }
  /** The stream closed without a result (the runner died, the pod was deleted). */
  | { kind: 'closed'; status: V1Status | undefined; diagnostics: string }
  /** `signal` fired; the socket was closed. */
  | { kind: 'stopped' };

export interface AttachInput {
  /** The payload header (see runner-protocol.ts in @cordon/core/backend). */
  payload: Buffer;
  /** The program's stdin, sent after the payload (its length is in the payload). */
  stdin: Uint8Array | undefined;
  nonce: string;
  /** The request, for the bounds of what may come back. */
  request: Pick<NormalizedRequest, 'limits'>;
}

/**
 * Attaches to the pod's booted runner, sends the payload and the program's stdin,
 * and streams the program's output into `sinks` until the runner's
 * trailers arrive. The client's connect resolves when the websocket opens, not when
 * anything ends, so the end is taken from the trailers, or the socket closing.
 */
export async function attachAndRun(
  api: KubeApi,
  namespace: string,
  pod: string,
  input: AttachInput,
  sinks: AttachSinks,
  connectTimeoutMs: number,
  signal: AbortSignal,
): Promise<AttachOutcome> {
  if (signal.aborted) return { kind: 'stopped' };
  // Own inert streams: the client's default handler would act on process.stdin/stdout on a CLOSE frame.
  const socketFactory = (uri: string, protocols: string | string[], options: object) =>
    new WebSocketClass(uri, protocols, { ...options, maxPayload: MAX_MESSAGE_BYTES });
  const handler = new WebSocketHandler(api.config, socketFactory as never, {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
  });
  const output = new RunnerOutput({
    nonce: input.nonce,
    bounds: collectionBounds(input.request),
    stdout: (chunk) => sinks.stdout(chunk),
    stderr: (chunk) => sinks.stderr(chunk),
  });
  let diagnostics = '';
  let status: V1Status | undefined;
  let settle: ((outcome: AttachOutcome) => void) | undefined;
  const done = new Promise<AttachOutcome>((resolve) => {
    settle = resolve;
  });
  let finished = false;
  const finish = (outcome: AttachOutcome) => {
    if (finished) return;
    finished = true;
    settle?.(outcome);
  };

  const onFrame = (channel: number, data: Buffer): boolean => {
    if (finished) return false;
    let state;
    switch (channel) {
      case WebSocketHandler.StdoutStream:
        state = output.push('stdout', data);
        break;
      case WebSocketHandler.StderrStream:
        state = output.push('stderr', data);
        // Before the program runs, stderr carries the supervisor's own errors: keep some for diagnostics.
        if (diagnostics.length < DIAGNOSTIC_BYTES)
          diagnostics += data.subarray(0, DIAGNOSTIC_BYTES - diagnostics.length).toString('utf8');
        break;
      case WebSocketHandler.StatusStream:
        if (data.byteLength <= MAX_STATUS_BYTES) status = parseStatus(data);
        return true;
      default:
        return true;
    }
    if (state === 'overflow') {
      finish({ kind: 'broken', problem: output.overflowProblem });
      return false;
    }
    if (state === 'complete') {
      const decoded = output.decode();
      finish(decoded.ok ? { kind: 'result', result: decoded.trailer } : { kind: 'broken', problem: decoded.problem });
      return false;
    }
    return true;
  };

  const connectDeadline = AbortSignal.timeout(connectTimeoutMs);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/attach?container=${SANDBOX_CONTAINER}&stdin=true&stdout=true&stderr=true&tty=false`;
  let socket: Socket;
  try {
    const connecting = handler.connect(path, null, onFrame) as Promise<unknown> as Promise<Socket>;
    socket = await raceAbort(connecting, AbortSignal.any([signal, connectDeadline]), (late) => late.close());
  } catch (error) {
    if (signal.aborted) return { kind: 'stopped' };
    if (connectDeadline.aborted)
      throw new BackendFailureError(
        BACKEND_NAME,
        `attaching to pod ${namespace}/${pod} did not complete within ${connectTimeoutMs} ms`,
        { pod },
      );
    throw api.translate(`create pods/attach in namespace ${namespace}`, error);
  }

  const onAbort = () => finish({ kind: 'stopped' });
  signal.addEventListener('abort', onAbort, { once: true });
  const ended = () => {
    output.end();
    finish({ kind: 'closed', status, diagnostics });
  };
  socket.on('close', ended);
  socket.on('error', ended);
  try {
    const stdinBytes = input.stdin
      ? Buffer.from(input.stdin.buffer, input.stdin.byteOffset, input.stdin.byteLength)
      : Buffer.alloc(0);
    for (const data of [input.payload, stdinBytes]) {
      for (let offset = 0; offset < data.byteLength; offset += STDIN_MESSAGE_BYTES) {
        const part = data.subarray(offset, offset + STDIN_MESSAGE_BYTES);
        const message = Buffer.alloc(part.byteLength + 1);
        message.writeUInt8(WebSocketHandler.StdinStream, 0);
        part.copy(message, 1);
        socket.send(message);
      }
    }
    // Runner protocol 3: the supervisor ends the program's stdin after its bytes; the
    // attach stays open until the trailer (closing it is this process's end to the supervisor).
    return await done;
  } finally {
    signal.removeEventListener('abort', onAbort);
    socket.close();
  }
}

function parseStatus(data: Buffer): V1Status | undefined {
  try {
    return JSON.parse(data.toString('utf8')) as V1Status;
  } catch (error) {
    // The class only (describeDebugError drops a SyntaxError's message, which quotes the bytes).
    debug('k8s.attach', () => `a ${data.byteLength}-byte status frame is not JSON`, error);
    return undefined;
  }
}

/** Resolves with `promise` unless `signal` fires first; a value that arrives late is handed to `discard`. */
async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, discard: (late: T) => void): Promise<T> {
  if (signal.aborted) {
    promise.then(discard, ignored('k8s.attach', 'a step finished after abort'));
    throw signal.reason;
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.then(discard, ignored('k8s.attach', 'a step finished after abort'));
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) discard(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(messageOf(error), { cause: error }));
      },
    );
  });
}
