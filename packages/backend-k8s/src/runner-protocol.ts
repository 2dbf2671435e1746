import type { Language } from '@cordon/core';

/**
 * The cordon runtime image's runner protocol (images/runtime/runner), shared with the
 * docker backend through `@cordon/core/backend`, where the framing and why
 * its trailer is authentic are described: the pod's root supervisor runs the program
 * under the pod's own uid and alone writes the trailer.
 */
export { RUNNER_PROTOCOL } from '@cordon/core/backend';

/** The tmpfs working directory (HOME) inside the pod, owned by the program's uid once it writes there. */
export const WORK_DIR = '/workspace';

/** Which booted child serves a language: node's pod also runs bash (spawned when its job comes). */
export type RunnerKind = 'node' | 'python';

export function runnerKindFor(language: Language): RunnerKind {
  return language === 'python' ? 'python' : 'node';
}

export interface SupervisorCommandOptions {
  kind: RunnerKind;
  /** The uid the program runs under: the pod's own, never root. */
  programUid: number;
  /** RLIMIT_NPROC for the program's processes only; root in the pod is never limited by a count it shares with the node. */
  nproc?: number | undefined;
}

/**
 * The supervisor as the pod's workload. No tini: the pod command's shell is PID 1 and
 * reaps orphans, and the supervisor must be its only other root process, since it ends
 * a run with kill(-1).
 */
export function supervisorCommand(options: SupervisorCommandOptions): string[] {
  return [
    // One V8 worker thread: every uid switch signals each thread (see supervisor.cjs).
    'node',
    '--v8-pool-size=1',
    '/opt/cordon/runner/supervisor.cjs',
    '--kind',
    options.kind,
    '--uid',
    String(options.programUid),
    ...(options.nproc === undefined ? [] : ['--nproc', String(Math.floor(options.nproc))]),
  ];
}

export {
  collectionBounds,
  encodePayload,
  newRunnerNonce as newNonce,
  RunnerOutput,
  RunnerTrailerError,
  type RunnerTrailer,
} from '@cordon/core/backend';
