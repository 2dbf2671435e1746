import { randomBytes } from 'node:crypto';
import { BackendUnavailableError, CordonError } from '@cordon/core';
import {
  DEFAULT_RUNTIME_IMAGE,
  parseToolsProbe,
  RUNNER_PROTOCOL,
  toolsProbeCommand,
  type ImageTools,
} from '@cordon/core/backend';
import type { KubeApi } from './kube-api.js';
import { BACKEND_NAME, deadlineSeconds, hardenedPodManifest, SANDBOX_CONTAINER } from './manifests.js';
import type { ParsedK8sOptions } from './options.js';
import { createPod, deletePod, waitForRunning } from './pod-lifecycle.js';

/** What runs in the pods: cordon's runtime image, or a user's image with these tools. */
export type ImageSetup = { kind: 'cordon' } | { kind: 'own'; tools: ImageTools; imageId: string | undefined };

/** Per cluster and image reference, for this process: an image's tools are probed once. */
const cache = new Map<string, Promise<ImageSetup>>();

/** Where and as whom the probe pod runs (`labels`: the executor's, so its close() finds the pod). */
export interface ImageProbeParams {
  api: KubeApi;
  options: ParsedK8sOptions;
  labels: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** How long one probe pod may take, on top of the pod start budget. */
const PROBE_RUN_MS = 30_000;

/**
 * Decides how pods run `options.image`. `cordon` (or `auto` with the default image):
 * the image's own runner, as always. Otherwise a pod runs the image's node (else its
 * python3) to report its tools and whether cordon's runner is already in it; an image
 * with cordon's runner of another protocol is refused, one with neither interpreter too.
 * The probe pod is as locked down as the isolation check's (non-root, no capabilities,
 * read-only root, behind the tenant's deny-all policy) and runs only the probe's code.
 */
export function imageSetup(params: ImageProbeParams): Promise<ImageSetup> {
  const { options } = params;
  if (isCordonImage(options)) return Promise.resolve({ kind: 'cordon' });
  const key = JSON.stringify([params.api.server, options.namespace, options.image, options.imageKind]);
  let setup = cache.get(key);
  if (!setup) {
    setup = probe(params);
    cache.set(key, setup);
    setup.catch(() => cache.delete(key));
  }
  return setup;
}

/** Known to be cordon's image without asking the cluster: said so, or the default image under `auto`. */
export function isCordonImage(options: Pick<ParsedK8sOptions, 'image' | 'imageKind'>): boolean {
  return options.imageKind === 'cordon' || (options.imageKind === 'auto' && options.image === DEFAULT_RUNTIME_IMAGE);
}

async function probe(params: ImageProbeParams): Promise<ImageSetup> {
  const { options } = params;
  const tried: string[] = [];
  for (const interpreter of ['node', 'python3'] as const) {
    const outcome = await runProbePod({ ...params, interpreter });
    if ('problem' in outcome) {
      tried.push(`${interpreter}: ${outcome.problem}`);
      continue;
    }
    const { tools, imageId } = outcome;
    if (tools.runnerProtocol !== undefined) {
      if (tools.runnerProtocol === RUNNER_PROTOCOL && options.imageKind !== 'own') return { kind: 'cordon' };
      if (tools.runnerProtocol !== RUNNER_PROTOCOL)
        throw new BackendUnavailableError(
          BACKEND_NAME,
          `the image ${options.image} holds cordon's runner of protocol ${tools.runnerProtocol}, and this backend speaks ${RUNNER_PROTOCOL} only`,
          'Rebuild it (npx cordon image build) and load it into the nodes.',
        );
    }
    if (!tools.sh)
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `the image ${options.image} has no POSIX shell (sh), which a sandbox pod's first process is`,
        'Use an image with /bin/sh (busybox or dash will do), or the docker backend, which needs none.',
      );
    return { kind: 'own', tools, imageId };
  }
  throw new BackendUnavailableError(
    BACKEND_NAME,
    `the image ${options.image} has neither node nor python3 that cordon can run (${tried.join('; ')})`,
    "Use an image with node and/or python3 on its PATH, or cordon's own (npx cordon image build).",
  );
}

async function runProbePod(
  params: ImageProbeParams & { interpreter: 'node' | 'python3' },
): Promise<{ tools: ImageTools; imageId: string | undefined } | { problem: string }> {
  const { api, options, signal } = params;
  const name = `cordon-image-probe-${randomBytes(6).toString('hex')}`;
  const manifest = hardenedPodManifest({
    name,
    namespace: options.namespace,
    role: 'image-probe',
    options,
    labels: params.labels,
    command: toolsProbeCommand(params.interpreter),
    stdin: false,
    noNetwork: true,
    limits: { memoryBytes: 256 * 1024 * 1024, cpus: 0.5, diskBytes: 1024 * 1024 },
    activeDeadlineSeconds: deadlineSeconds(options.podStartTimeoutMs, PROBE_RUN_MS),
  });
  try {
    await createPod(api, manifest, signal);
    let done;
    try {
      done = await waitForRunning(
        api,
        options.namespace,
        name,
        options.image,
        options.podStartTimeoutMs + PROBE_RUN_MS,
        signal,
        'completed',
      );
    } catch (error) {
      // A missing interpreter is a container that cannot start; the image itself being unusable is not.
      if (error instanceof CordonError && error.code === 'BACKEND_UNAVAILABLE') throw error;
      return { problem: error instanceof Error ? error.message : String(error) };
    }
    const status = done.status?.containerStatuses?.find((entry) => entry.name === SANDBOX_CONTAINER);
    const terminated = status?.state?.terminated;
    const log = await api.call(
      `get pods/log in namespace ${options.namespace}`,
      (callOptions) =>
        api.core.readNamespacedPodLog(
          { name, namespace: options.namespace, container: SANDBOX_CONTAINER },
          callOptions,
        ),
      { signal },
    );
    const tools = parseToolsProbe(String(log).slice(0, 64 * 1024));
    if (tools && terminated?.exitCode === 0) return { tools, imageId: status?.imageID };
    return {
      problem: `exit ${terminated?.exitCode ?? '?'} (${terminated?.reason ?? 'no reason'}${terminated?.message ? `: ${terminated.message.slice(0, 200)}` : ''})`,
    };
  } finally {
    await deletePod(api, options.namespace, name).catch(() => undefined);
  }
}
