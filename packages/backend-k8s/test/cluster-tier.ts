import { existsSync } from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { LABELS, OWNER_ID } from '@cordon/core/backend';
import { K8sExecutor } from '../src/index.js';

/**
 * The cluster tier runs when KUBECONFIG names a kubeconfig of the test cluster
 * (`pnpm cluster:up` prints its path). Without one it is skipped loudly, or fails
 * when CORDON_REQUIRE_TIERS asks for it (`all` or a list containing `k8s`).
 */
export function clusterTier(): { kubeconfig: string | undefined; required: boolean; why: string } {
  const kubeconfig = process.env.KUBECONFIG;
  const required = (process.env.CORDON_REQUIRE_TIERS ?? '')
    .split(',')
    .map((name) => name.trim())
    .some((name) => name === 'all' || name === 'k8s');
  if (!kubeconfig) return { kubeconfig: undefined, required, why: 'KUBECONFIG is not set' };
  if (!existsSync(kubeconfig))
    return { kubeconfig: undefined, required, why: `KUBECONFIG=${kubeconfig} does not exist` };
  return { kubeconfig, required, why: '' };
}

export function announceSkip(why: string): void {
  process.stderr.write(
    `\n*** SKIPPED: @cordon/backend-k8s cluster tests: ${why}.\n*** Enable: KUBECONFIG=$(pnpm -s cluster:up | tail -1) pnpm --filter @cordon/backend-k8s test\n\n`,
  );
}

/** A started executor for one test file's own namespaces; `stop()` tears it all down. */
export interface TenantExecutor {
  readonly executor: K8sExecutor;
  /** An admin client, for checks the executor's own rights would not allow. */
  readonly core: CoreV1Api;
  /**
   * Closes the executor, lists what it left (its leftovers, then any pod with this
   * process's owner label in the tenant namespace) and deletes both namespaces.
   * Resolves to that list, which a test expects to be empty.
   */
  stop(): Promise<string[]>;
}

/** An executor (pool of 1) on a tenant and an unrestricted namespace of the test file's own. */
export async function startTenantExecutor(
  kubeconfig: string,
  namespaces: { tenant: string; unrestricted: string },
  options: Record<string, unknown> = {},
): Promise<TenantExecutor> {
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  const executor = K8sExecutor.create({
    kubeconfig,
    namespace: namespaces.tenant,
    unrestrictedNamespace: namespaces.unrestricted,
    poolSize: 1,
    ...options,
  });
  const stop = async (): Promise<string[]> => {
    await executor.close();
    const left = await executor.leftovers();
    const owned = await core.listNamespacedPod({
      namespace: namespaces.tenant,
      labelSelector: `${LABELS.owner}=${OWNER_ID}`,
    });
    await Promise.allSettled(
      [namespaces.tenant, namespaces.unrestricted].map((name) => core.deleteNamespace({ name })),
    );
    return [...left, ...owned.items.map((pod) => `pod ${pod.metadata?.name ?? '?'}`)];
  };
  try {
    await executor.resolveImage();
    await executor.ready();
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { executor, core, stop };
}
