import { hostname } from 'node:os';
import { ignored, LABELS, MANAGED_BY } from '@cordon/core/backend';
import type Docker from 'dockerode';
import { BACKEND_NAME } from './backend-name.js';
import { DOCKER_LABELS } from './container-spec.js';
import type { DockerApi } from './docker-api.js';

/** `key=value` filters matching everything this backend made. */
const CORDON_FILTERS = [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.backend}=${BACKEND_NAME}`];

/** Containers this backend made, optionally narrowed by more `key=value` labels. */
export async function listCordonContainers(
  api: DockerApi,
  labels: Record<string, string> = {},
): Promise<Docker.ContainerInfo[]> {
  return api.listContainers([...CORDON_FILTERS, ...Object.entries(labels).map(([key, value]) => `${key}=${value}`)]);
}

/** Force-removes containers by id, in parallel; already-gone ones count as removed. */
export async function removeContainers(api: DockerApi, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => api.removeContainer(id)));
}

/**
 * Removes what dead owners on this host left behind (their process crashed or
 * was killed before `close()`): containers, networks and volumes whose owner pid no longer runs.
 * Containers made from other hosts (a shared remote daemon) are left alone.
 */
export async function reapDeadOwners(api: DockerApi): Promise<string[]> {
  const host = hostname();
  const dead = (await listCordonContainers(api)).filter((info) => isDeadOwner(info.Labels ?? {}, host));
  await removeContainers(
    api,
    dead.map((info) => info.Id),
  );
  // Networks made for conformance control runs by owners that died before closing.
  const networks = await removeDead({
    host,
    listed: await api.listNetworks(CORDON_FILTERS),
    name: (info) => info.Id,
    remove: (id) => api.removeNetwork(id),
    what: 'network',
  });
  // Egress volumes of brokers whose owner died (src/egress/broker-container.ts): after their containers.
  const volumes = await removeDead({
    host,
    listed: await api.listVolumes(CORDON_FILTERS),
    name: (info) => info.Name,
    remove: (name) => api.removeVolume(name),
    what: 'volume',
  });
  return [...dead.map((info) => info.Id), ...networks, ...volumes];
}

/** Removes the dead owners' ones among `listed` (a failure is logged, not thrown); resolves to their names. */
async function removeDead<T extends { Labels?: Record<string, string> | null }>(params: {
  host: string;
  listed: readonly T[];
  name: (info: T) => string;
  remove: (name: string) => Promise<void>;
  what: string;
}): Promise<string[]> {
  const dead = params.listed.filter((info) => isDeadOwner(info.Labels ?? {}, params.host)).map(params.name);
  await Promise.all(
    dead.map((name) => params.remove(name).catch(ignored('docker.reaper', () => `remove ${params.what} ${name}`))),
  );
  return dead;
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
