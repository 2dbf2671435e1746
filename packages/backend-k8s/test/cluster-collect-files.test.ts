import { LABELS, OWNER_ID } from '@cordon/core/backend';
import { describeCollectFilesCases } from '@cordon/core/conformance/vitest';
import type { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { K8sExecutor } from '../src/index.js';
import { announceSkip, clusterTier, startTenantExecutor } from './cluster-tier.js';

// Core's one collectFiles behaviour (COLLECT_FILES_CASES), collected by the image's supervisor in a pod.
const tier = clusterTier();
if (!tier.kubeconfig && !tier.required) announceSkip(tier.why);

// Namespaces of this test file only, removed afterwards.
const tenant = `cordon-f-${OWNER_ID}`;
const control = `cordon-g-${OWNER_ID}`;

describe.runIf(tier.kubeconfig !== undefined)('k8s backend on a real cluster: collectFiles', () => {
  let executor: K8sExecutor;
  let core: CoreV1Api;

  beforeAll(async () => {
    ({ executor, core } = await startTenantExecutor(tier.kubeconfig!, { tenant, control }));
  }, 300_000);

  afterAll(async () => {
    await executor?.close();
    const pods = await core.listNamespacedPod({ namespace: tenant, labelSelector: `${LABELS.owner}=${OWNER_ID}` });
    await Promise.allSettled([tenant, control].map((name) => core.deleteNamespace({ name })));
    expect(pods.items.map((pod) => pod.metadata?.name)).toEqual([]);
  }, 120_000);

  describeCollectFilesCases('k8s', () => executor);
});
