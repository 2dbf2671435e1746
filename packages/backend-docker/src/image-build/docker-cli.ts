import { DAEMON_REMEDY } from '../runtime-image.js';
import { IMAGE_BUILD_COMMAND, ImageBuildFailedError, ImageBuildUnavailableError } from './errors.js';
import { outputTail, runCommand, type CommandResult } from './run-command.js';

/**
 * The docker CLI, as build-offline.sh uses it (the legacy builder, so the build needs no
 * BuildKit; `dockerHost` becomes DOCKER_HOST).
 */
export class DockerCli {
  readonly #env: NodeJS.ProcessEnv;
  readonly #signal: AbortSignal | undefined;

  constructor(options: { dockerHost?: string | undefined; signal?: AbortSignal | undefined }) {
    this.#env = {
      ...process.env,
      DOCKER_BUILDKIT: '0',
      ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
    };
    this.#signal = options.signal;
  }

  get env(): NodeJS.ProcessEnv {
    return this.#env;
  }

  run(args: readonly string[], onLine?: (line: string) => void, streamStdout = false): Promise<CommandResult> {
    return runCommand({ command: 'docker', args, env: this.#env, signal: this.#signal, onLine, streamStdout });
  }

  /** The daemon's version. @throws ImageBuildUnavailableError without a CLI or a daemon. */
  async serverVersion(): Promise<string> {
    const result = await this.run(['version', '--format', '{{.Server.Version}}']);
    if (result.missing) {
      throw new ImageBuildUnavailableError(
        'docker-cli',
        'the docker command is not installed',
        `Install the Docker CLI (Debian/Ubuntu: apt-get install docker.io), then run ${IMAGE_BUILD_COMMAND} again.`,
      );
    }
    if (result.code !== 0) {
      throw new ImageBuildUnavailableError(
        'docker-daemon',
        `no Docker daemon answers (${result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`})`,
        DAEMON_REMEDY,
      );
    }
    return result.stdout.trim();
  }

  async imageExists(ref: string): Promise<boolean> {
    return (await this.run(['image', 'inspect', '--format', '{{.Id}}', ref])).code === 0;
  }

  /** Id and labels of a local image. @throws ImageBuildFailedError when it is not there. */
  async inspect(ref: string): Promise<{ id: string; labels: Record<string, string> }> {
    const result = await this.run(['image', 'inspect', '--format', '{{json .Id}} {{json .Config.Labels}}', ref]);
    if (result.code !== 0)
      throw new ImageBuildFailedError('docker image inspect', `no image ${ref}`, outputTail(result));
    // The id holds no space, so the first one separates the two JSON values.
    const text = result.stdout.trim();
    const space = text.indexOf(' ');
    const id = JSON.parse(text.slice(0, space)) as string;
    const labels = JSON.parse(text.slice(space + 1)) as Record<string, string> | null;
    return { id, labels: labels ?? {} };
  }

  /** Pulls an image; returns the daemon's reason when it cannot. */
  async pull(ref: string, onLine?: (line: string) => void): Promise<{ ok: true } | { ok: false; reason: string }> {
    const result = await this.run(['pull', ref], onLine, true);
    if (result.code === 0) return { ok: true };
    const reason = result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`;
    return { ok: false, reason };
  }
}
