import { setTimeout as sleep } from 'node:timers/promises';
import { BackendFailureError, BackendUnavailableError, CordonError } from '@cordon/core';
import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import type { KubeApi } from './kube-api.js';
import { BACKEND_NAME, SANDBOX_CONTAINER } from './manifests.js';
import { debug } from '@cordon/core/backend';

/** Waiting reasons that never resolve on their own for a single-use pod: fail at once instead of hanging. */
const IMAGE_REASONS = new Set([
  'ErrImageNeverPull',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ImageInspectError',
  'RegistryUnavailable',
]);
const FATAL_REASONS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
  'PreCreateHookError',
  'PreStartHookError',
]);

export async function createPod(api: KubeApi, pod: V1Pod, signal?: AbortSignal): Promise<V1Pod> {
  const namespace = pod.metadata!.namespace!;
  return api.call(
    `create pods in namespace ${namespace}`,
    (options) => api.core.createNamespacedPod({ namespace, body: pod }, options),
    { signal },
  );
}

/**
 * Deletes with a 1 s grace (the runner exits on SIGTERM at once). Not 0: a forced
 * delete drops the pod object while its containers still run, and a policy plugin
 * that matches pods by IP would stop guarding them. Missing is fine.
 */
export async function deletePod(api: KubeApi, namespace: string, name: string): Promise<void> {
  await api.call(
    `delete pods in namespace ${namespace}`,
    (options) => api.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 1 }, options),
    { allow: [404] },
  );
}

export async function readPod(
  api: KubeApi,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<V1Pod | undefined> {
  return api.call(
    `get pods in namespace ${namespace}`,
    (options) => api.core.readNamespacedPod({ name, namespace }, options),
    { signal, allow: [404] },
  );
}

/**
 * Polls until the sandbox container runs. Image problems (`imagePullPolicy: Never`
 * with a missing image, a failed pull) and container creation errors fail at once
 * with a typed error; a pod that is not running by `timeoutMs` fails too, quoting
 * the scheduler's reason.
 */
export async function waitForRunning(
  api: KubeApi,
  namespace: string,
  name: string,
  image: string,
  timeoutMs: number,
  signal?: AbortSignal,
  until: 'running' | 'completed' = 'running',
): Promise<V1Pod> {
  const started = performance.now();
  let delayMs = 25;
  let lastReason = 'not scheduled yet';
  for (;;) {
    signal?.throwIfAborted();
    const pod = await readPod(api, namespace, name, signal);
    if (!pod)
      throw new BackendFailureError(BACKEND_NAME, `pod ${namespace}/${name} disappeared while starting`, { pod: name });
    const status = pod.status;
    const container = status?.containerStatuses?.find((entry) => entry.name === SANDBOX_CONTAINER);
    if (until === 'running' && container?.state?.running) return pod;
    if (
      until === 'completed' &&
      (container?.state?.terminated || status?.phase === 'Succeeded' || status?.phase === 'Failed')
    )
      return pod;
    const waiting = container?.state?.waiting;
    if (waiting?.reason && IMAGE_REASONS.has(waiting.reason)) {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `image "${image}" cannot be used on the node (${waiting.reason}: ${waiting.message ?? 'no detail'})`,
        imageRemedy(image),
        { cause: waiting },
      );
    }
    if (waiting?.reason && FATAL_REASONS.has(waiting.reason)) {
      throw new BackendFailureError(
        BACKEND_NAME,
        `pod ${namespace}/${name} could not start its container (${waiting.reason}: ${waiting.message ?? 'no detail'})`,
        { pod: name },
      );
    }
    if (container?.state?.terminated || status?.phase === 'Failed' || status?.phase === 'Succeeded') {
      const terminated = container?.state?.terminated;
      throw new BackendFailureError(
        BACKEND_NAME,
        `pod ${namespace}/${name} ended before it could run anything (${terminated?.reason ?? status?.reason ?? status?.phase}: ${terminated?.message ?? status?.message ?? 'no detail'})`,
        { pod: name },
      );
    }
    const scheduled = status?.conditions?.find((condition) => condition.type === 'PodScheduled');
    if (scheduled?.status === 'False')
      lastReason = `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? ''}`;
    else if (waiting?.reason) lastReason = `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
    else if (scheduled?.status === 'True') lastReason = 'scheduled, container starting';
    const elapsed = performance.now() - started;
    if (elapsed > timeoutMs) {
      const warning = await lastWarning(api, namespace, name);
      throw new BackendFailureError(
        BACKEND_NAME,
        `pod ${namespace}/${name} was not running after ${timeoutMs} ms (${lastReason}${warning ? `; last event: ${warning}` : ''})`,
        { pod: name },
      );
    }
    await sleep(Math.min(delayMs, Math.max(1, timeoutMs - elapsed)), undefined, { signal });
    delayMs = Math.min(delayMs * 2, 250);
  }
}

/** The sandbox container's terminated state, waiting up to `timeoutMs` for the kubelet to report it. */
export async function waitForTermination(
  api: KubeApi,
  namespace: string,
  name: string,
  timeoutMs: number,
): Promise<V1ContainerStateTerminated | undefined> {
  const started = performance.now();
  let delayMs = 50;
  while (performance.now() - started < timeoutMs) {
    const pod = await readPod(api, namespace, name).catch((error: unknown) => {
      if (error instanceof CordonError) return undefined;
      throw error;
    });
    const terminated = pod?.status?.containerStatuses?.find((entry) => entry.name === SANDBOX_CONTAINER)?.state
      ?.terminated;
    if (terminated) return terminated;
    if (!pod) return undefined;
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 250);
  }
  return undefined;
}

/** The pod's latest warning event (e.g. FailedCreatePodSandBox), when events may be read. */
async function lastWarning(api: KubeApi, namespace: string, name: string): Promise<string | undefined> {
  try {
    const events = await api.call(
      `list events in namespace ${namespace}`,
      (options) =>
        api.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},type=Warning` }, options),
      { allow: [403] },
    );
    const last = events?.items.at(-1);
    return last ? `${last.reason ?? 'Warning'}: ${last.message ?? ''}`.slice(0, 500) : undefined;
  } catch (error) {
    debug('k8s.pod', () => `list warning events of pod ${namespace}/${name}`, error);
    return undefined;
  }
}

function imageRemedy(image: string): string {
  return `Load "${image}" into the nodes' container runtime (imagePullPolicy is Never by default, so cordon never pulls), or push it to a registry and set the imagePullPolicy option (and imagePullSecrets), or set the image option.`;
}
