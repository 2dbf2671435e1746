export { backend } from './backend.js';
export { DockerBackendExecutor } from './docker-backend-executor.js';
export { DockerExecutor } from './drop-in/docker-executor.js';
export type { DockerExecutionResult, DockerExecutorInfo, DockerExecutorOptions } from './drop-in/types.js';
export {
  parseDockerOptions,
  type DockerBackendOptions,
  type DockerOptions,
  type ParsedDockerOptions,
  type ResolvedDockerOptions,
} from './options.js';
export type { DaemonFacts } from './daemon-check.js';
export { DEFAULT_IMAGE, RUNTIME_IMAGE_VERSION } from './runtime-image.js';
// The drop-in for the original design: its callers switch by changing one import path.
export { DockerExecutor as default } from './drop-in/docker-executor.js';
export {
  buildRuntimeImage,
  DEFAULT_BASE_IMAGE,
  IMAGE_BUILD_MODES,
  type BuildRuntimeImageOptions,
  type ImageBuildMode,
  type RuntimeImageBuild,
} from './image-build/build-runtime-image.js';
export {
  IMAGE_BUILD_COMMAND,
  ImageBuildFailedError,
  ImageBuildUnavailableError,
  type ImageBuildNeed,
} from './image-build/errors.js';
