/**
 * The runtime image this package's runner protocol matches. Kept equal to
 * `CORDON_RUNTIME_VERSION` in images/runtime/versions.env (a test checks it).
 */
export const RUNTIME_IMAGE_VERSION = '0.1.0';
export const DEFAULT_IMAGE = `cordon-runtime:${RUNTIME_IMAGE_VERSION}`;
/** Image label naming the stdin/trailer protocol its runner speaks. */
export const RUNNER_PROTOCOL_LABEL = 'dev.cordon.runner-protocol';
export const RUNNER_PROTOCOL = '1';
/** The tmpfs working directory inside the container, owned by the image's non-root user. */
export const WORKDIR = '/workspace';
export const SANDBOX_USER = '10001:10001';

/** Which booted runner serves a language: node runs node in-process and bash as a child. */
export type RunnerKind = 'node' | 'python';

export const RUNNER_COMMANDS: Readonly<Record<RunnerKind, readonly string[]>> = {
  node: ['node', '/opt/cordon/runner/runner.cjs'],
  python: ['python3', '-u', '/opt/cordon/runner/runner.py'],
};

export const BUILD_REMEDY = 'Build the runtime image: bash images/runtime/build-offline.sh (or pass options.image).';
export const DAEMON_REMEDY = 'Start Docker: bash scripts/docker-up.sh (or point options.dockerHost / DOCKER_HOST at a daemon).';
