import { existsSync } from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
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

/**
 * An admin API client and a started executor (pool of 1) for one test file's own tenant
 * and control namespaces; the caller closes it and deletes the namespaces.
 */
export async function startTenantExecutor(
  kubeconfig: string,
  namespaces: { tenant: string; control: string },
): Promise<{ executor: K8sExecutor; core: CoreV1Api }> {
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  const executor = K8sExecutor.create({
    kubeconfig,
    namespace: namespaces.tenant,
    controlNamespace: namespaces.control,
    poolSize: 1,
  });
  await executor.ready();
  return { executor, core: admin.makeApiClient(CoreV1Api) };
}
