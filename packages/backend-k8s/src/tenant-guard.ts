import { CordonError, IsolationRefusedError } from '@cordon/core';
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { KubeForbiddenError, type KubeApi } from './kube-api.js';
import {
  BACKEND_NAME,
  denyAllPolicyManifest,
  DENY_ALL_POLICY_NAME,
  namespaceManifest,
  policyProblem,
} from './manifests.js';

/**
 * Makes sure a namespace exists; creates it (labelled as cordon's) when allowed.
 * A namespace someone else made is used as it is: pre-created tenant namespaces
 * are how the least-privilege deployment works.
 */
export async function ensureNamespace(
  api: KubeApi,
  name: string,
  role: 'tenant' | 'control',
  create: boolean,
  signal?: AbortSignal,
): Promise<void> {
  // Without `create`, the deployment made the namespaces (deploy/rbac.yaml) and the
  // backend has no cluster-scoped right to even read them: the first namespaced call
  // fails clearly if one is missing.
  if (!create) return;
  const existing = await api.call(`get namespace ${name}`, (options) => api.core.readNamespace({ name }, options), {
    signal,
    allow: [404],
  });
  if (existing) return;
  await api.call(
    `create namespaces (${name})`,
    (options) => api.core.createNamespace({ body: namespaceManifest(name, role) }, options),
    { signal, allow: [409] },
  );
}

/**
 * Creates the deny-all ingress+egress policy if missing, then checks every policy in
 * the namespace (see checkPolicies). Fails closed: any failure is an
 * IsolationRefusedError and no sandbox pod may run.
 */
export async function ensureDenyAllPolicy(api: KubeApi, namespace: string, signal?: AbortSignal): Promise<void> {
  try {
    await api.call(
      `create networkpolicies in namespace ${namespace}`,
      (options) =>
        api.networking.createNamespacedNetworkPolicy({ namespace, body: denyAllPolicyManifest(namespace) }, options),
      { signal, allow: [409] },
    );
  } catch (error) {
    throw asRefusal(error, namespace);
  }
  await checkPolicies(api, namespace, signal);
}

/**
 * Checks every NetworkPolicy in the namespace: ours present exactly as created, and
 * no other one adding allow rules next to it (policies are additive). One list call;
 * runs before every pod.
 * @throws IsolationRefusedError (fail closed).
 */
export async function checkPolicies(api: KubeApi, namespace: string, signal?: AbortSignal): Promise<void> {
  try {
    const list = await api.call(
      `list networkpolicies in namespace ${namespace}`,
      (options) => api.networking.listNamespacedNetworkPolicy({ namespace }, options),
      { signal },
    );
    const policies: V1NetworkPolicy[] = list.items;
    if (!policies.some((policy) => policy.metadata?.name === DENY_ALL_POLICY_NAME)) {
      throw new IsolationRefusedError(
        BACKEND_NAME,
        'network',
        `cannot be guaranteed: NetworkPolicy ${namespace}/${DENY_ALL_POLICY_NAME} was created but is not there`,
        'Check for an admission controller or another actor removing NetworkPolicies.',
      );
    }
    for (const policy of policies) {
      const problem = policyProblem(policy);
      if (problem) {
        throw new IsolationRefusedError(
          BACKEND_NAME,
          'network',
          `cannot be guaranteed in namespace ${namespace}: ${problem}`,
          `Remove or fix that policy (kubectl -n ${namespace} get networkpolicy), or use a namespace only cordon uses.`,
        );
      }
    }
  } catch (error) {
    throw asRefusal(error, namespace);
  }
}

/** Any failure around the policy means no pod may run: refuse, keeping unreachable-API errors as they are. */
function asRefusal(error: unknown, namespace: string): CordonError {
  if (error instanceof IsolationRefusedError) return error;
  if (error instanceof KubeForbiddenError) {
    return new IsolationRefusedError(BACKEND_NAME, 'network', `cannot be set up: ${error.message}`, error.remedy, {
      cause: error,
    });
  }
  if (error instanceof CordonError && error.code === 'BACKEND_UNAVAILABLE') return error;
  return new IsolationRefusedError(
    BACKEND_NAME,
    'network',
    `cannot be set up: the deny-all NetworkPolicy in ${namespace} could not be created or verified (${error instanceof Error ? error.message : String(error)})`,
    'Check the API server and the rights in packages/backend-k8s/deploy/rbac.yaml.',
    { cause: error },
  );
}
