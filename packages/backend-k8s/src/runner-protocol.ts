import type { Language } from '@cordon/core';

/**
 * Protocol 1 of the cordon runtime image's runner (images/runtime/runner), shared with
 * the docker backend through `@cordon/core/runner-protocol`. In, on the runner's stdin: a 4-byte big-endian
 * length, that many bytes of JSON, then the program's own stdin until EOF. Out: the
 * program's output as is, then a trailer on each stream:
 *   stdout: "\0cordon:<nonce>:\0"
 *   stderr: "\0cordon:<nonce>:" + base64(JSON { exitCode, signal, files, filesTruncated }) + "\0"
 * The nonce is per execution, so a program cannot forge the trailer.
 */
export { RUNNER_PROTOCOL } from '@cordon/core/runner-protocol';

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

export { decodeTrailer, encodePayload, newRunnerNonce as newNonce, TrailerScanner, type RunnerTrailer } from '@cordon/core/runner-protocol';
