export { backend } from './backend.js';
export { DockerBackendExecutor } from './docker-backend-executor.js';
export { runnerKindFor } from './runtime-image.js';
export {
  DockerExecutor,
  type DockerExecutionResult,
  type DockerExecutorInfo,
  type DockerExecutorOptions,
} from './docker-executor.js';
export { dockerConformance } from './conformance-adapter.js';
export { probeDocker } from './probe.js';
export { resolveDockerOptions, type DockerBackendOptions, type ResolvedDockerOptions } from './options.js';
export type { DaemonFacts } from './daemon-check.js';
export { DOCKER_LABELS } from './container-spec.js';
export { DEFAULT_IMAGE, RUNTIME_IMAGE_VERSION } from './runtime-image.js';
export { DockerExecutor as default } from './docker-executor.js';
