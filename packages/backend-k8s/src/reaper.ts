import { debug, ignored, LABELS, OWNER_ID } from '@cordon/core/backend';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeApi } from './kube-api.js';
import { cordonSelector, EXPIRES_ANNOTATION } from './manifests.js';
import { deletePod } from './pod-lifecycle.js';

/** A finished pod of another owner is left this long for its owner to read its status. */
const FINISHED_GRACE_MS = 60_000;

/**
 * Whether a pod left by another owner is dead weight: its owner cannot still
 * need it. A pod past its `expires-at` (its `activeDeadlineSeconds` has passed) or
 * finished for a minute qualifies; a live owner's running pods never do.
 */
export function isReapable(pod: V1Pod, now: number, ownId = OWNER_ID): boolean {
  if (pod.metadata?.labels?.[LABELS.owner] === ownId) return false;
  if (pod.metadata?.deletionTimestamp) return false;
  const expiresAt = Date.parse(pod.metadata?.annotations?.[EXPIRES_ANNOTATION] ?? '');
  if (Number.isFinite(expiresAt) && expiresAt < now) return true;
  const phase = pod.status?.phase;
  if (phase !== 'Succeeded' && phase !== 'Failed') return false;
  const finishedAt = pod.status?.containerStatuses
    ?.map((status) => status.state?.terminated?.finishedAt)
    .find((value) => value !== undefined);
  const finished = finishedAt ? new Date(finishedAt).getTime() : 0;
  return now - finished > FINISHED_GRACE_MS;
}

/** Deletes what dead owners left in `namespaces`; returns the names removed. Never throws. */
export async function reapDeadOwners(api: KubeApi, namespaces: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const namespace of namespaces) {
    try {
      const list = await api.call(`list pods in namespace ${namespace}`, (options) =>
        api.core.listNamespacedPod({ namespace, labelSelector: cordonSelector() }, options),
      );
      const now = Date.now();
      for (const pod of list.items) {
        const name = pod.metadata?.name;
        if (!name || !isReapable(pod, now)) continue;
        await deletePod(api, namespace, name);
        removed.push(`${namespace}/${name}`);
      }
    } catch (error) {
      // Reaping is housekeeping: a failure here must not fail executions.
      debug('k8s.reaper', () => `reap namespace ${namespace}`, error);
    }
  }
  if (removed.length > 0)
    debug('k8s.reaper', () => `reaped ${removed.length} pod(s) of dead owners: ${removed.join(', ')}`);
  return removed;
}

export interface OwnedPod {
  namespace: string;
  name: string;
  phase: string;
}

/** This owner's pods in `namespaces`, or only one executor's. */
export async function ownedPods(
  api: KubeApi,
  namespaces: readonly string[],
  executor?: string,
  owner = OWNER_ID,
): Promise<OwnedPod[]> {
  const found: OwnedPod[] = [];
  for (const namespace of namespaces) {
    const list = await api.call(`list pods in namespace ${namespace}`, (options) =>
      api.core.listNamespacedPod({ namespace, labelSelector: cordonSelector(owner, executor) }, options),
    );
    for (const pod of list.items)
      found.push({
        namespace,
        name: pod.metadata?.name ?? '?',
        phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown'),
      });
  }
  return found;
}

/**
 * Deletes every pod of this owner and executor that is not already being deleted,
 * through `remove` (which never throws). A namespace that cannot be listed is skipped.
 */
export async function deleteOwnedPods(params: {
  api: KubeApi;
  namespaces: readonly string[];
  executor: string;
  remove: (pod: { namespace: string; name: string }) => Promise<void>;
}): Promise<void> {
  const { api } = params;
  for (const namespace of params.namespaces) {
    const list = await api
      .call(`list pods in namespace ${namespace}`, (options) =>
        api.core.listNamespacedPod({ namespace, labelSelector: cordonSelector(OWNER_ID, params.executor) }, options),
      )
      .catch(ignored('k8s.reaper', () => `list pods of executor ${params.executor} in namespace ${namespace}`));
    for (const pod of list?.items ?? []) {
      if (pod.metadata?.name && !pod.metadata.deletionTimestamp)
        await params.remove({ namespace, name: pod.metadata.name });
    }
  }
}
