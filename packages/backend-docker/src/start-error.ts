import { BackendUnavailableError } from '@cordon/core';
import { BACKEND_NAME } from './backend-name.js';
import type { SandboxSpec } from './container-spec.js';
import { daemonMessageOf, httpStatusOf } from './docker-errors.js';
import { BUILD_REMEDY, DAEMON_REMEDY } from './runtime-image.js';

/**
 * A failed create/attach/start of a sandbox container, made specific where the
 * daemon says why in words: a missing image or an unknown runtime is a setup
 * problem with a known fix, not a failure of this run.
 */
export function startError(error: unknown, spec: SandboxSpec): Error {
  const message = daemonMessageOf(error);
  if (httpStatusOf(error) === 404 && /no such image/i.test(message)) {
    return new BackendUnavailableError(BACKEND_NAME, `the runtime image ${spec.image} is not present`, BUILD_REMEDY, {
      cause: error,
    });
  }
  if (/runtime/i.test(message) && /unknown|invalid/i.test(message)) {
    return new BackendUnavailableError(
      BACKEND_NAME,
      `the OCI runtime "${spec.runtime ?? ''}" is not configured in dockerd (${message})`,
      `Configure it in /etc/docker/daemon.json: ${DAEMON_REMEDY}`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
