import { randomBytes } from 'node:crypto';
import { PassThrough, type Duplex } from 'node:stream';
import { ignored } from '@cordon/core/backend';
import { BrokerDaemonClient, type DaemonSession, type DaemonSessionParams } from '@cordon/egress-broker';
import { EGRESS_MOUNT, ownerLabels } from '../container-spec.js';
import type { DockerApi } from '../docker-api.js';
import { DAEMON_FILE, daemonArchive } from './daemon-archive.js';

/** The role label on what a broker is made of (its container and its volume). */
export const EGRESS_ROLE_LABEL = 'cordon.dev/role';
export const EGRESS_ROLE = 'egress-broker';
/** A broker that does not exit within this after its channel ends is killed. */
const EXIT_WAIT_MS = 5_000;

export interface BrokerContainerParams {
  readonly api: DockerApi;
  /** An image with Node (the runtime image). */
  readonly image: string;
  /** The executor the broker serves (a label, so its leftovers are found). */
  readonly executorId: string;
  readonly signal?: AbortSignal;
}

/**
 * One executor's egress broker on Docker: a container (the runtime image, host
 * network, root with only CAP_CHOWN) running @cordon/egress-broker's daemon, and a
 * volume it shares with the executor's sandboxes. Each execution's session is a unix
 * socket on that volume, in a directory only the execution's group may pass; the
 * sandbox itself has `--network none`. The SDK drives the daemon over the container's
 * attached stdio, so nothing here needs the daemon host's file system: it works
 * against a remote Docker daemon. Labelled like sandboxes (owner, pid, host,
 * executor), so a dead owner's broker and volume are reaped with its containers.
 */
export class BrokerContainer implements AsyncDisposable {
  readonly #api: DockerApi;
  readonly #client: BrokerDaemonClient;
  #closing: Promise<void> | undefined;
  #exitCode: number | undefined;

  private constructor(
    api: DockerApi,
    readonly containerId: string,
    readonly volume: string,
    client: BrokerDaemonClient,
  ) {
    this.#api = api;
    this.#client = client;
  }

  static async start(params: BrokerContainerParams): Promise<BrokerContainer> {
    const { api } = params;
    const labels: Record<string, string> = { ...ownerLabels(params.executorId), [EGRESS_ROLE_LABEL]: EGRESS_ROLE };
    const volume = `cordon-egress-${randomBytes(6).toString('hex')}`;
    await api.createVolume({ name: volume, labels });
    let containerId: string | undefined;
    try {
      containerId = await api.createContainer({
        Image: params.image,
        Entrypoint: ['node'],
        Cmd: ['--v8-pool-size=1', DAEMON_FILE, '--root', EGRESS_MOUNT],
        User: '0:0',
        Labels: labels,
        OpenStdin: true,
        // Our attach ending closes the daemon's stdin: it closes every session and exits.
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          // The broker dials the allowed destinations as the host would (spawn's broker runs in the host process).
          NetworkMode: 'host',
          CapDrop: ['ALL'],
          // To hand each session's directory to the sandbox's group.
          CapAdd: ['CHOWN'],
          SecurityOpt: ['no-new-privileges'],
          Mounts: [{ Type: 'volume', Source: volume, Target: EGRESS_MOUNT }],
        },
      });
      await api.putArchive(containerId, await daemonArchive(), '/');
      const stream = await api.attachContainer(containerId);
      const stdout = new PassThrough();
      api.demuxStream(stream, stdout, new PassThrough());
      // The demuxer never ends its outputs: the attach ending (the container died) is the channel's end.
      const ended = () => stdout.end();
      stream.once('end', ended);
      stream.once('close', ended);
      stream.on('error', ended);
      await api.startContainer(containerId);
      const client = await BrokerDaemonClient.attach({
        // A hijacked attach is the connection's socket: writable both ways.
        input: stream as unknown as Duplex,
        output: stdout,
        ...(params.signal ? { signal: params.signal } : {}),
      });
      return new BrokerContainer(api, containerId, volume, client);
    } catch (error) {
      if (containerId) await api.removeContainer(containerId).catch(ignored('docker.egress', 'remove the broker'));
      await api.removeVolume(volume).catch(ignored('docker.egress', 'remove the egress volume'));
      throw error;
    }
  }

  /** False once its daemon's channel broke (the container died, or sent garbage): no session can open any more. */
  get alive(): boolean {
    return this.#client.alive && this.#closing === undefined;
  }

  /** Opens an execution's session; its `socket` is the same path in a sandbox that mounts the volume at EGRESS_MOUNT. */
  open(params: DaemonSessionParams): Promise<DaemonSession> {
    return this.#client.open(params);
  }

  /** Ends the daemon's channel (every session closes), then removes the container and the volume; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#client.close();
      const exited = new AbortController();
      const timer = setTimeout(() => exited.abort(), EXIT_WAIT_MS);
      this.#exitCode = await this.#api
        .exitCodeOf(this.containerId, { signal: exited.signal })
        .catch(ignored('docker.egress', 'wait for the broker'));
      clearTimeout(timer);
      await this.#api.removeContainer(this.containerId);
      await this.#api.removeVolume(this.volume);
    })();
    return this.#closing;
  }

  /** After close(): the daemon's exit code when it exited by itself (0: every session closed), else undefined (killed). */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
