import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import Docker from 'dockerode';
import { ApiTimeoutError, rawStatusOf, translateDockerError } from './docker-errors.js';

export interface DockerApiOptions {
  /** unix://, tcp://, http:// or https://; undefined: DOCKER_HOST, else the default socket. */
  dockerHost?: string | undefined;
  /** The deadline on every bounded call. */
  apiTimeoutMs: number;
}

export interface DockerCallOptions {
  signal?: AbortSignal | undefined;
  /** HTTP statuses the caller treats as done (e.g. 404 on a removal): the call resolves to `undefined`. */
  allow?: readonly number[];
  /** Context for the BackendFailureError of a failed call. */
  context?: Record<string, unknown>;
}

/** What the backend reads from `GET /info`. */
export interface DaemonInfo {
  ServerVersion?: string;
  Runtimes?: Record<string, { path?: string } | undefined>;
  DefaultRuntime?: string;
}

/** Already gone, or being removed by another call: nothing left to do. */
const GONE = [404, 409] as const;

/**
 * The Docker client with cordon's rules: every call but a wait for an exit has a
 * deadline (a hung daemon must not hang a run), and every failure becomes a typed
 * CordonError naming what was attempted; raw dockerode errors never reach callers.
 * One per executor (and per probe), bound to its `apiTimeoutMs`.
 */
export class DockerApi {
  readonly apiTimeoutMs: number;
  readonly #docker: Docker;

  private constructor(docker: Docker, apiTimeoutMs: number) {
    this.#docker = docker;
    this.apiTimeoutMs = apiTimeoutMs;
  }

  static connect(options: DockerApiOptions): DockerApi {
    return new DockerApi(dockerodeFor(options.dockerHost), options.apiTimeoutMs);
  }

  /**
   * Runs one API call with the deadline and translates failures.
   * @param action what is attempted, e.g. `create a container`, for errors.
   */
  async call<T>(
    action: string,
    request: () => Promise<T>,
    options: DockerCallOptions & { allow: readonly number[] },
  ): Promise<T | undefined>;
  async call<T>(action: string, request: () => Promise<T>, options?: DockerCallOptions): Promise<T>;
  async call<T>(action: string, request: () => Promise<T>, options: DockerCallOptions = {}): Promise<T | undefined> {
    const timeoutMs = this.apiTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const bounds = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ApiTimeoutError(`no answer from the Docker daemon within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const { signal } = options;
      if (!signal) return;
      onAbort = () => reject(signal.reason as Error);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([request(), bounds]);
    } catch (error) {
      const status = rawStatusOf(error);
      if (status !== undefined && options.allow?.includes(status)) return undefined;
      throw translateDockerError(action, error, options.context);
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async ping(): Promise<void> {
    await this.call('reach the daemon', () => this.#docker.ping() as Promise<unknown>);
  }

  async info(): Promise<DaemonInfo> {
    return (await this.call('read daemon info', () => this.#docker.info() as Promise<unknown>)) as DaemonInfo;
  }

  async inspectImage(image: string): Promise<Docker.ImageInspectInfo> {
    return this.call('inspect the runtime image', () => this.#docker.getImage(image).inspect());
  }

  /** Creates a container; resolves to its id. */
  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const container = await this.call('create a container', () => this.#docker.createContainer(options));
    return container.id;
  }

  /** The container's stdin, stdout and stderr, multiplexed (see `demuxStream`); attach before start to miss nothing. */
  async attachContainer(id: string, options: { stdin?: boolean } = {}): Promise<NodeJS.ReadWriteStream> {
    const stdin = options.stdin ?? true;
    return this.call('attach to the container', () =>
      this.#docker.getContainer(id).attach({ stream: true, stdin, stdout: true, stderr: true, hijack: stdin }),
    );
  }

  /** Splits an attach stream into stdout and stderr. */
  demuxStream(stream: NodeJS.ReadWriteStream, stdout: Writable, stderr: Writable): void {
    this.#docker.modem.demuxStream(stream, stdout, stderr);
  }

  async startContainer(id: string): Promise<void> {
    await this.call('start the container', () => this.#docker.getContainer(id).start() as Promise<unknown>);
  }

  /**
   * The daemon's event stream under `filters` (e.g. `{ label: [...], event: ['die'] }`),
   * resolved once the daemon answered. Its socket is unref'd: a subscription never keeps
   * the process alive.
   */
  async events(params: { filters: Record<string, string[]> }): Promise<Readable> {
    const stream = (await this.call('subscribe to container events', () =>
      this.#docker.getEvents({ filters: params.filters }),
    )) as Readable & { socket?: Socket };
    stream.socket?.unref();
    return stream;
  }

  /**
   * Exit status of a container that ends (or ended) but was not yet removed: its code,
   * or `undefined` when it is already gone (AutoRemove) or `signal` fired. No deadline.
   */
  async exitCodeOf(id: string, options: { signal: AbortSignal }): Promise<number | undefined> {
    try {
      const result = (await this.#docker.getContainer(id).wait({ abortSignal: options.signal })) as {
        StatusCode?: number;
      };
      return typeof result.StatusCode === 'number' ? result.StatusCode : undefined;
    } catch (error) {
      if (options.signal.aborted || rawStatusOf(error) === 404) return undefined;
      throw translateDockerError('wait for the container', error, { containerId: id });
    }
  }

  async inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.call('inspect the container', () => this.#docker.getContainer(id).inspect(), {
      context: { containerId: id },
    });
  }

  /** SIGKILL to every process in the container; one already stopped or gone is fine. */
  async killContainer(id: string): Promise<void> {
    await this.call(
      'kill the container',
      () => this.#docker.getContainer(id).kill({ signal: 'SIGKILL' }) as Promise<unknown>,
      { allow: GONE },
    );
  }

  /**
   * Force-removes the container and its volumes, resolving once it is gone: one
   * already gone is fine, and one being removed (AutoRemove after its exit) is waited
   * for, so nobody sees it after this returns.
   */
  async removeContainer(id: string): Promise<void> {
    let inProgress = false;
    await this.call(
      'remove the container',
      () =>
        (this.#docker.getContainer(id).remove({ force: true, v: true }) as Promise<unknown>).catch((error: unknown) => {
          if (rawStatusOf(error) !== 409) throw error;
          inProgress = true;
        }),
      { allow: [404] },
    );
    if (!inProgress) return;
    await this.call(
      'wait for the container to be removed',
      () => this.#docker.getContainer(id).wait({ condition: 'removed' }) as Promise<unknown>,
      { allow: [404], context: { containerId: id } },
    );
  }

  /** Every container (running or not) carrying all of `labels` (`key=value`). */
  async listContainers(labels: readonly string[]): Promise<Docker.ContainerInfo[]> {
    return this.call('list containers', () =>
      this.#docker.listContainers({ all: true, filters: { label: [...labels] } }),
    );
  }

  /** Creates a network; resolves to its id. */
  async createNetwork(options: Docker.NetworkCreateOptions): Promise<string> {
    const network = await this.call('create a network', () => this.#docker.createNetwork(options));
    return network.id;
  }

  async inspectNetwork(name: string): Promise<unknown> {
    return this.call(
      `inspect the "${name}" network`,
      () => this.#docker.getNetwork(name).inspect() as Promise<unknown>,
    );
  }

  /** Networks carrying all of `labels` (`key=value`). */
  async listNetworks(labels: readonly string[]): Promise<Docker.NetworkInspectInfo[]> {
    return this.call('list networks', () => this.#docker.listNetworks({ filters: { label: [...labels] } }));
  }

  async removeNetwork(id: string): Promise<void> {
    await this.call('remove the network', () => this.#docker.getNetwork(id).remove() as Promise<unknown>);
  }

  /** Creates a named volume (on the daemon's host: it works against a remote daemon too). */
  async createVolume(options: { name: string; labels: Record<string, string> }): Promise<void> {
    await this.call(
      'create a volume',
      () => this.#docker.createVolume({ Name: options.name, Labels: options.labels }) as Promise<unknown>,
    );
  }

  /** Volumes carrying all of `labels` (`key=value`). */
  async listVolumes(labels: readonly string[]): Promise<{ Name: string; Labels: Record<string, string> | null }[]> {
    const listed = await this.call('list volumes', () => this.#docker.listVolumes({ filters: { label: [...labels] } }));
    return (listed as { Volumes?: { Name: string; Labels: Record<string, string> | null }[] | null }).Volumes ?? [];
  }

  /** Removes a volume; one already gone is fine. */
  async removeVolume(name: string): Promise<void> {
    await this.call('remove the volume', () => this.#docker.getVolume(name).remove() as Promise<unknown>, {
      allow: [404],
      context: { volume: name },
    });
  }

  /** Unpacks a tar archive into a (created, not yet started) container at `path`. */
  async putArchive(id: string, archive: Buffer, path: string): Promise<void> {
    await this.call(
      'copy files into the container',
      () => this.#docker.getContainer(id).putArchive(archive, { path }) as Promise<unknown>,
      { context: { containerId: id, path } },
    );
  }
}

/** A dockerode client for `dockerHost` (unix:// or tcp://), or for DOCKER_HOST / the default socket. */
function dockerodeFor(dockerHost: string | undefined): Docker {
  if (dockerHost === undefined) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({
    host: url.hostname,
    port: url.port === '' ? (url.protocol === 'https:' ? 2376 : 2375) : Number(url.port),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
}
