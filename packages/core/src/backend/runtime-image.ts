import type { Language } from '../request.js';

/**
 * Facts of the cordon runtime image (images/runtime) that the docker and k8s backends
 * both rely on, kept in one place. The version is `CORDON_RUNTIME_VERSION` in
 * images/runtime/versions.env (a test ties them); the framing its runner speaks is
 * `RUNNER_PROTOCOL` in runner-protocol.ts, which the image carries as a label.
 */
export const RUNTIME_IMAGE_VERSION = '0.3.0';
export const DEFAULT_RUNTIME_IMAGE = `cordon-runtime:${RUNTIME_IMAGE_VERSION}`;
/** Image label naming the stdin/trailer protocol its runner speaks. */
export const RUNNER_PROTOCOL_LABEL = 'dev.cordon.runner-protocol';
/** Image label naming the runtime image's version (`CORDON_RUNTIME_VERSION`). */
export const RUNTIME_VERSION_LABEL = 'dev.cordon.runtime-version';
/** The tmpfs working directory (and HOME) inside a sandbox, owned by the program's uid. */
export const RUNTIME_WORKDIR = '/workspace';
/** The image's own non-root user: the uid every sandbox shared before per-sandbox uids. */
export const RUNTIME_IMAGE_UID = 10001;

/** Which booted child serves a language: node's sandbox also runs bash (spawned when its job comes). */
export type RunnerKind = 'node' | 'python';

export function runnerKindFor(language: Language): RunnerKind {
  return language === 'python' ? 'python' : 'node';
}

export interface SupervisorCommandOptions {
  kind: RunnerKind;
  /** The uid the program runs under (0 only for conformance controls). */
  programUid: number;
  /** RLIMIT_NPROC for the program's processes only; never set on root's, which is shared with the host or node. */
  nproc?: number | undefined;
  /**
   * Under an allow-list: the execution's broker socket as the sandbox sees it; the
   * supervisor starts the egress forwarder (scope proxy) relaying to it before the job.
   */
  egressSocket?: string | undefined;
}

/**
 * The image's root supervisor as the sandbox's workload (under tini in a container,
 * under the pod command's shell in a pod). It ends a run with kill(-1), so it must be
 * the only other root process there.
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
    ...(options.egressSocket === undefined ? [] : ['--egress-socket', options.egressSocket]),
  ];
}
