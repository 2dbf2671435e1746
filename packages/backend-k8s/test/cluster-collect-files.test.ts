import { OWNER_ID } from '@cordon/core/backend';
import { describeCollectFilesCases } from '@cordon/core/conformance/vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { K8sExecutor } from '../src/index.js';
import { announceSkip, clusterTier } from './cluster-tier.js';

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
    const admin = new KubeConfig();
    admin.loadFromFile(tier.kubeconfig!);
    core = admin.makeApiClient(CoreV1Api);
    executor = K8sExecutor.create({
      kubeconfig: tier.kubeconfig,
      namespace: tenant,
      controlNamespace: control,
      poolSize: 1,
    });
    await executor.ready();
  }, 300_000);

  afterAll(async () => {
    await executor?.close();
    const pods = await core.listNamespacedPod({ namespace: tenant, labelSelector: `cordon.dev/session=${OWNER_ID}` });
    await Promise.allSettled([tenant, control].map((name) => core.deleteNamespace({ name })));
    expect(pods.items.map((pod) => pod.metadata?.name)).toEqual([]);
  }, 120_000);

  describeCollectFilesCases('k8s', () => executor);
});
