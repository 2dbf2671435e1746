import { LABELS, OWNER_ID } from '@cordon/core/backend';
import Docker from 'dockerode';

export const docker = new Docker();

/** Containers carrying this test process's owner label (leak checks never look wider). */
export async function sessionContainers(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABELS.owner}=${OWNER_ID}`] } });
}
