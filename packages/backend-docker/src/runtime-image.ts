/**
 * The runtime image as this package names it for users. Its facts (version, label,
 * working directory, uid, supervisor command) live in `@cordon/core/backend`, shared
 * with the k8s backend.
 */
import { DEFAULT_RUNTIME_IMAGE } from '@cordon/core/backend';

export { RUNTIME_IMAGE_VERSION } from '@cordon/core/backend';
/** The image a container runs unless `options.image` says otherwise. */
export const DEFAULT_IMAGE = DEFAULT_RUNTIME_IMAGE;

export const BUILD_REMEDY = 'Build the runtime image: npx cordon image build (or pass options.image).';
export const DAEMON_REMEDY =
  'Start the Docker daemon (Debian/Ubuntu: apt-get install docker.io, then start dockerd), or point options.dockerHost / DOCKER_HOST at a daemon.';
