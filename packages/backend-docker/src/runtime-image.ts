import type { Language } from '@cordon/core';
/**
 * The runtime image this package's runner protocol matches. Kept equal to
 * `CORDON_RUNTIME_VERSION` in images/runtime/versions.env (a test checks it).
 */
export const RUNTIME_IMAGE_VERSION = '0.2.0';
export const DEFAULT_IMAGE = `cordon-runtime:${RUNTIME_IMAGE_VERSION}`;
/** Image label naming the stdin/trailer protocol its runner speaks. */
export { RUNNER_PROTOCOL } from '@cordon/core/backend';
export const RUNNER_PROTOCOL_LABEL = 'dev.cordon.runner-protocol';
/** The tmpfs working directory inside the container, owned by the program's uid. */
export const WORKDIR = '/workspace';
/** The image's own non-root user, and the uid every container shared before per-sandbox uids. */
export const IMAGE_USER_UID = 10001;

/** Which booted child serves a language: node's container also runs bash (spawned when its job comes). */
export type RunnerKind = 'node' | 'python';

export function runnerKindFor(language: Language): RunnerKind {
  return language === 'python' ? 'python' : 'node';
}

export interface SupervisorCommandOptions {
  kind: RunnerKind;
  /** The uid the program runs under (0 only for conformance controls). */
  programUid: number;
  /** RLIMIT_NPROC for the program's processes only (gVisor); never set on root's. */
  nproc?: number | undefined;
}

/** The container's command: the image's root supervisor (tini, the entrypoint, is PID 1). */
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

export const BUILD_REMEDY = 'Build the runtime image: bash images/runtime/build-offline.sh (or pass options.image).';
export const DAEMON_REMEDY =
  'Start Docker: bash scripts/docker-up.sh (or point options.dockerHost / DOCKER_HOST at a daemon).';
