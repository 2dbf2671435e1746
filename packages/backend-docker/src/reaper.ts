import { hostname } from 'node:os';
import { LABELS, MANAGED_BY } from '@cordon/core';
import type Docker from 'dockerode';
import { DOCKER_LABELS } from './container-spec.js';
import { BACKEND_NAME, dockerCall, statusCodeOf } from './docker-client.js';

/** Containers this backend made, optionally narrowed by more `key=value` labels. */
export async function listCordonContainers(
  docker: Docker,
  apiTimeoutMs: number,
  labels: Record<string, string> = {},
): Promise<Docker.ContainerInfo[]> {
  const filters = [
    `${LABELS.managedBy}=${MANAGED_BY}`,
    `${LABELS.backend}=${BACKEND_NAME}`,
    ...Object.entries(labels).map(([key, value]) => `${key}=${value}`),
  ];
  return dockerCall('list containers', apiTimeoutMs, () =>
    docker.listContainers({ all: true, filters: { label: filters } }),
  );
}

/** Force-removes containers by id, in parallel; already-gone ones count as removed. */
export async function removeContainers(docker: Docker, apiTimeoutMs: number, ids: readonly string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      try {
        await dockerCall(
          'remove a container',
          apiTimeoutMs,
          () => docker.getContainer(id).remove({ force: true, v: true }) as Promise<unknown>,
        );
      } catch (error) {
        const status = statusCodeOf((error as { cause?: unknown }).cause);
        if (status !== 404 && status !== 409) throw error;
      }
    }),
  );
}

/**
 * Removes what dead sessions on this host left behind (their process crashed or
 * was killed before `close()`): containers and networks whose owner pid no longer runs.
 * Containers made from other hosts (a shared remote daemon) are left alone.
 */
export async function reapDeadSessions(docker: Docker, apiTimeoutMs: number): Promise<string[]> {
  const host = hostname();
  const dead = (await listCordonContainers(docker, apiTimeoutMs)).filter((info) =>
    isDeadOwner(info.Labels ?? {}, host),
  );
  await removeContainers(
    docker,
    apiTimeoutMs,
    dead.map((info) => info.Id),
  );
  // Networks made for conformance control runs by sessions that died before closing.
  const networks = await dockerCall('list networks', apiTimeoutMs, () =>
    docker.listNetworks({
      filters: { label: [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.backend}=${BACKEND_NAME}`] },
    }),
  );
  const deadNetworks = networks.filter((info) => isDeadOwner(info.Labels ?? {}, host));
  await Promise.all(
    deadNetworks.map((info) =>
      dockerCall('remove a network', apiTimeoutMs, () => docker.getNetwork(info.Id).remove() as Promise<unknown>).catch(
        () => undefined,
      ),
    ),
  );
  return [...dead.map((info) => info.Id), ...deadNetworks.map((info) => info.Id)];
}

function isDeadOwner(labels: Record<string, string>, host: string): boolean {
  if (labels[DOCKER_LABELS.ownerHost] !== host) return false;
  const pid = Number(labels[DOCKER_LABELS.ownerPid]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
