import { BackendUnavailableError } from '@cordon/core';
import type Docker from 'dockerode';
import { BACKEND_NAME } from './backend-name.js';
import type { DockerApi } from './docker-api.js';
import { daemonMessageOf, httpStatusOf } from './docker-errors.js';
import type { ParsedDockerOptions } from './options.js';
import { RUNNER_PROTOCOL, RUNNER_PROTOCOL_LABEL } from '@cordon/core/backend';
import { BUILD_REMEDY, DAEMON_REMEDY } from './runtime-image.js';

/** What was found about the daemon and the image; shown by `availability()` and `capabilities().notes`. */
export interface DaemonFacts {
  serverVersion: string;
  /** The OCI runtime executions use (the option, or the daemon's default). */
  runtime: string;
  runtimes: string[];
  /** The runtime is gVisor (runsc): its own kernel, so some limits are enforced differently. */
  gvisor: boolean;
  imageId: string;
  imageLabels: Record<string, string>;
  /**
   * The image is not cordon's (no runner label): the runner is sent in over stdin at
   * each container's start, and its tools are probed once (see image-tools.ts).
   */
  foreignImage: boolean;
  /**
   * Whether a sandbox may connect to a unix socket on a mounted volume (an allow-list's
   * broker session): always under runc; under gVisor only with the runtime's
   * `--host-uds=open` (or `all`), read from the daemon's runtime arguments.
   */
  hostUnixSockets: boolean;
}

/**
 * Checks that executions can run at all: daemon reachable, runtime configured,
 * image present and speaking this package's runner protocol. Fails closed with
 * a `BackendUnavailableError` that says what to do.
 */
export async function checkDaemon(
  api: DockerApi,
  options: Pick<ParsedDockerOptions, 'image' | 'runtime'>,
): Promise<DaemonFacts> {
  await api.ping();
  const info = await api.info();
  const runtimes = Object.keys(info.Runtimes ?? {});
  const runtime = options.runtime ?? info.DefaultRuntime ?? 'runc';
  if (!runtimes.includes(runtime)) {
    throw new BackendUnavailableError(
      BACKEND_NAME,
      `the OCI runtime "${runtime}" is not configured in dockerd (it knows ${runtimes.join(', ') || 'none'})`,
      `Add it under "runtimes" in /etc/docker/daemon.json and reload dockerd; ${DAEMON_REMEDY}`,
    );
  }
  let image: Docker.ImageInspectInfo;
  try {
    image = await api.inspectImage(options.image);
  } catch (error) {
    if (error instanceof BackendUnavailableError) throw error;
    if (httpStatusOf(error) === 404) {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `the runtime image ${options.image} is not present`,
        BUILD_REMEDY,
        { cause: error },
      );
    }
    throw new BackendUnavailableError(
      BACKEND_NAME,
      `could not inspect the image ${options.image} (${daemonMessageOf(error)})`,
      DAEMON_REMEDY,
      { cause: error },
    );
  }
  const imageLabels = image.Config?.Labels ?? {};
  const protocol = imageLabels[RUNNER_PROTOCOL_LABEL];
  // No label: a foreign image, which gets this package's runner at start. Another
  // protocol is refused: an older runner runs the program in its own process, where the
  // program can forge the result, and a label cannot be half-trusted.
  if (protocol !== undefined && protocol !== RUNNER_PROTOCOL) {
    throw new BackendUnavailableError(
      BACKEND_NAME,
      `the image ${options.image} speaks runner protocol ${protocol}, and this backend speaks ${RUNNER_PROTOCOL} only`,
      BUILD_REMEDY,
    );
  }
  const gvisor = /runsc|gvisor/i.test(`${runtime} ${info.Runtimes?.[runtime]?.path ?? ''}`);
  const runtimeArgs = (info.Runtimes?.[runtime] as { runtimeArgs?: string[] } | undefined)?.runtimeArgs ?? [];
  return {
    serverVersion: info.ServerVersion ?? 'unknown',
    runtime,
    runtimes,
    gvisor,
    imageId: image.Id,
    imageLabels,
    foreignImage: protocol === undefined,
    hostUnixSockets:
      !gvisor || runtimeArgs.some((arg) => /^--?(host-uds=(open|all)|fsgofer-host-uds(=true)?)$/.test(arg)),
  };
}
