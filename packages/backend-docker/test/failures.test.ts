import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError, CordonError } from '@cordon/core';
import { LABELS, MANAGED_BY, OWNER_ID, RUNNER_PROTOCOL, RUNNER_PROTOCOL_LABEL } from '@cordon/core/backend';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCKER_LABELS } from '../src/container-spec.js';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { DEFAULT_IMAGE } from '../src/runtime-image.js';
import { dockerAvailability } from '../src/availability.js';
import { docker, sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');
const scratch = mkdtempSync(join(tmpdir(), 'cordon-docker-test-'));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A unix-socket proxy to the real daemon that the test can cut, like a dockerd that dies. */
function daemonProxy(path: string): Promise<{ server: Server; cut(): void }> {
  const sockets = new Set<Socket>();
  // Half-open like the daemon: the attach stream stays readable after stdin is closed.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ path: '/var/run/docker.sock', allowHalfOpen: true });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) =>
    server.listen(path, () =>
      resolve({
        server,
        cut: () => {
          server.close();
          for (const socket of sockets) socket.destroy();
        },
      }),
    ),
  );
}

describe('docker backend: failures', () => {
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    if (available) expect(await sessionContainers()).toEqual([]);
  });

  it('says clearly when no daemon answers, and never hangs', async () => {
    const dockerHost = `unix://${join(scratch, 'no-daemon.sock')}`;
    const started = performance.now();
    const error = await rejection(DockerBackendExecutor.create({ dockerHost }));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).remedy).toContain('start dockerd');
    const probe = await dockerAvailability({ dockerHost });
    expect(probe).toMatchObject({ usable: false });
    expect(probe.remedy).toContain('start dockerd');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('times out API calls against a daemon that accepts but never answers', async () => {
    const path = join(scratch, 'silent.sock');
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const started = performance.now();
      const error = await rejection(DockerBackendExecutor.create({ dockerHost: `unix://${path}`, apiTimeoutMs: 500 }));
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      server.close();
    }
  });

  it.runIf(available)('refuses a missing image and an unknown runtime, naming the fix', async () => {
    const image = await rejection(DockerBackendExecutor.create({ image: 'cordon-runtime:does-not-exist' }));
    expect(image).toBeInstanceOf(BackendUnavailableError);
    expect((image as BackendUnavailableError).remedy).toContain('npx cordon image build');
    const runtime = await rejection(DockerBackendExecutor.create({ runtime: 'no-such-runtime' }));
    expect(runtime).toBeInstanceOf(BackendUnavailableError);
    expect((runtime as Error).message).toContain('no-such-runtime');
    expect(await dockerAvailability({ image: 'cordon-runtime:does-not-exist' })).toMatchObject({ usable: false });
  });

  it.runIf(available)(
    'refuses an image of another runner protocol, and one with neither node nor python3',
    async () => {
      // Any image without cordon's label is a user's own (see foreign-images.test.ts); one that
      // carries another protocol's label is refused (fail closed), as is one cordon cannot run.
      const rootfs = (await docker.listImages({ filters: { reference: ['cordon-rootfs'] } }))[0]?.RepoTags?.[0];
      expect(rootfs, 'the runtime image build leaves its cordon-rootfs base').toBeDefined();
      const oldProtocol = 'cordon-test/old-protocol:1';
      const noInterpreter = 'cordon-test/no-interpreter:1';
      const built = spawnSync('docker', ['build', '-q', '-t', oldProtocol, '-'], {
        input: `FROM ${rootfs}\nLABEL ${RUNNER_PROTOCOL_LABEL}=2\n`,
      });
      expect(built.status, built.stderr.toString()).toBe(0);
      const imported = spawnSync('sh', ['-c', `tar -C /bin -c busybox | docker import - ${noInterpreter}`]);
      expect(imported.status, imported.stderr.toString()).toBe(0);
      try {
        const old = await rejection(DockerBackendExecutor.create({ image: oldProtocol }));
        expect(old).toBeInstanceOf(BackendUnavailableError);
        expect((old as Error).message).toContain(
          `speaks runner protocol 2, and this backend speaks ${RUNNER_PROTOCOL}`,
        );
        const none = await rejection(DockerBackendExecutor.create({ image: noInterpreter }));
        expect(none).toBeInstanceOf(BackendUnavailableError);
        expect((none as Error).message).toContain('has neither node nor python3');
      } finally {
        spawnSync('docker', ['rmi', '-f', oldProtocol, noInterpreter]);
      }
    },
  );

  it.runIf(available)(
    'fails clearly, promptly and without hanging when the daemon goes away mid-run',
    async () => {
      const proxy = await daemonProxy(join(scratch, 'proxy.sock'));
      const executor = await DockerBackendExecutor.create({
        dockerHost: `unix://${join(scratch, 'proxy.sock')}`,
        poolSize: 0,
      });
      try {
        setTimeout(() => proxy.cut(), 1500);
        const started = performance.now();
        const error = await rejection(
          executor.execute({ language: 'node', code: 'setInterval(() => {}, 1000)', timeoutMs: 20_000 }),
        );
        expect(error).toBeInstanceOf(CordonError);
        expect(error).toBeInstanceOf(BackendUnavailableError);
        expect(performance.now() - started).toBeLessThan(6000);
        // close() must not hang either, though it cannot reach the daemon.
        const closing = performance.now();
        await executor.close();
        expect(performance.now() - closing).toBeLessThan(20_000);
      } finally {
        proxy.cut();
        // The container lives on under the real daemon: remove it by this executor's label.
        const left = await docker.listContainers({
          all: true,
          filters: { label: [`${DOCKER_LABELS.executor}=${executor.executorId}`] },
        });
        // It may be removing itself already (AutoRemove once its supervisor sees the attach close): 409, then gone.
        await Promise.all(
          left.map((info) =>
            docker
              .getContainer(info.Id)
              .remove({ force: true })
              .catch((error: { statusCode?: number }) => {
                if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
              }),
          ),
        );
      }
    },
    60_000,
  );

  it.runIf(available)('reaps containers of owners whose process is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = dead.stdout.trim();
    const orphan = await docker.createContainer({
      Image: DEFAULT_IMAGE,
      Cmd: ['sleep', '600'],
      Labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.backend]: 'docker',
        [LABELS.owner]: 'dead-owner',
        [DOCKER_LABELS.ownerPid]: deadPid,
        [DOCKER_LABELS.ownerHost]: hostname(),
      },
      HostConfig: { NetworkMode: 'none' },
    });
    // Same labels, but owned by a live process (this one): must be left alone.
    const alive = await docker.createContainer({
      Image: DEFAULT_IMAGE,
      Cmd: ['sleep', '600'],
      Labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.backend]: 'docker',
        [LABELS.owner]: OWNER_ID,
        [DOCKER_LABELS.ownerPid]: String(process.ppid),
        [DOCKER_LABELS.ownerHost]: hostname(),
      },
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      const executor = await DockerBackendExecutor.create({ poolSize: 0 });
      await executor.close();
      await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await alive.inspect()).Id).toBe(alive.id);
    } finally {
      await orphan.remove({ force: true }).catch(() => undefined);
      await alive.remove({ force: true }).catch(() => undefined);
    }
  });
});
