import { OWNER_ID } from '@cordon/core/backend';
import { describeCollectFilesCases } from '@cordon/core/conformance/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { announceSkip, clusterTier, startTenantExecutor, type TenantExecutor } from './cluster-tier.js';

// Core's one collectFiles behaviour (COLLECT_FILES_CASES), collected by the image's supervisor in a pod.
const tier = clusterTier();
if (!tier.kubeconfig && !tier.required) announceSkip(tier.why);

// Namespaces of this test file only, removed afterwards.
const tenant = `cordon-f-${OWNER_ID}`;
const unrestricted = `cordon-g-${OWNER_ID}`;

describe.runIf(tier.kubeconfig !== undefined)('k8s backend on a real cluster: collectFiles', () => {
  let started: TenantExecutor | undefined;

  beforeAll(async () => {
    started = await startTenantExecutor(tier.kubeconfig!, { tenant, unrestricted });
  }, 300_000);

  afterAll(async () => {
    expect(await started?.stop()).toEqual([]);
  }, 120_000);

  describeCollectFilesCases('k8s', () => started!.executor);
});
