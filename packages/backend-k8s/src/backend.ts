import type { BackendAvailability, CordonBackend } from '@cordon/core';
import { CordonError } from '@cordon/core';
import { RUNNER_PROTOCOL } from '@cordon/core/backend';
import { conformanceAdapter } from './conformance.js';
import { K8sExecutor } from './k8s-executor.js';
import { KubeApi } from './kube-api.js';
import { BACKEND_NAME } from './manifests.js';
import { parseK8sOptions } from './options.js';

/** Options only the conformance adapter reads; `create` must not reject them. */
const CONFORMANCE_ONLY = ['conformanceReachIpv4'];

function executorOptions(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !CONFORMANCE_ONLY.includes(key)));
}

async function availability(options: Record<string, unknown> = {}): Promise<BackendAvailability> {
  try {
    const parsed = parseK8sOptions(executorOptions(options));
    const api = KubeApi.load({ ...parsed, apiTimeoutMs: Math.min(parsed.apiTimeoutMs, 3000) });
    const version = await api.call('get version', async (callOptions) => {
      const response = await api.core.getAPIResources(callOptions);
      return response.groupVersion;
    });
    return {
      usable: true,
      detail: `API server ${api.server} (${version}), namespace ${parsed.namespace}, image ${parsed.image}`,
      network: 'kernel',
      // The nodes' container runtime holds the image: its labels are not visible from here.
      image: { ref: parsed.image, present: 'unknown', expectedProtocol: RUNNER_PROTOCOL },
    };
  } catch (error) {
    if (error instanceof CordonError) {
      const remedy = typeof error.context.remedy === 'string' ? error.context.remedy : undefined;
      // The reason alone when there is one: the remedy is shown on a line of its own.
      const detail = typeof error.context.reason === 'string' ? error.context.reason : error.message;
      return { usable: false, detail, network: 'kernel', ...(remedy ? { remedy } : {}) };
    }
    return { usable: false, detail: error instanceof Error ? error.message : String(error), network: 'kernel' };
  }
}

/** The `@cordon/backend-k8s` module shape (see `CordonBackend` in @cordon/core). */
export const backend: CordonBackend = {
  name: BACKEND_NAME,
  // The image is resolved at create (a probe pod for a user's image), so capabilities() is exact.
  create: async (options) => {
    const executor = K8sExecutor.create(executorOptions(options));
    try {
      await executor.resolveImage();
    } catch (error) {
      await executor.close();
      throw error;
    }
    return executor;
  },
  availability,
  conformance: (executor, options) => conformanceAdapter(executor, options),
};
