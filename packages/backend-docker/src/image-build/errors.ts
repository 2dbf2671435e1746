import { BackendFailureError, BackendUnavailableError } from '@cordon/core';
import { BACKEND_NAME } from '../backend-name.js';

/** The command every image remedy names: it builds from the files this package ships. */
export const IMAGE_BUILD_COMMAND = 'npx cordon image build';

/** What a runtime image build found missing on this machine. */
export type ImageBuildNeed =
  | 'docker-cli'
  | 'docker-daemon'
  | 'definition'
  | 'npm'
  | 'cache-dir'
  | 'base-image'
  | 'debootstrap'
  | 'root'
  | 'offline-tools';

/** The build cannot start here: `need` names what is missing, `remedy` what to do. */
export class ImageBuildUnavailableError extends BackendUnavailableError {
  override name = 'ImageBuildUnavailableError';
  readonly need: ImageBuildNeed;

  constructor(need: ImageBuildNeed, reason: string, remedy: string, options?: { cause?: unknown }) {
    super(BACKEND_NAME, `cannot build the runtime image: ${reason}`, remedy, options);
    this.need = need;
  }
}

/** A build step ran and failed (docker build, debootstrap, npm): `step` names it, `output` is its tail. */
export class ImageBuildFailedError extends BackendFailureError {
  override name = 'ImageBuildFailedError';
  readonly step: string;

  constructor(step: string, message: string, output: string, options?: { cause?: unknown }) {
    super(BACKEND_NAME, `runtime image build: ${step} failed: ${message}`, { step, output }, options);
    this.step = step;
  }
}
