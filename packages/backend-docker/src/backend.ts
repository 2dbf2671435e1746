import type { CordonBackend } from '@cordon/core';
import { dockerConformance } from './conformance-adapter.js';
import { DockerBackendExecutor } from './docker-backend-executor.js';
import { BACKEND_NAME } from './backend-name.js';
import { dockerAvailability } from './availability.js';

/** The docker backend as `createExecutor({ backend: 'docker' })` and `cordon --backend docker` load it. */
export const backend: CordonBackend = {
  name: BACKEND_NAME,
  create: (options) => DockerBackendExecutor.create(options),
  availability: (options) => dockerAvailability(options),
  conformance: (executor, options) => dockerConformance(executor, options),
};
