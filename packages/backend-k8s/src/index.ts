import { backend } from './backend.js';

export { backend } from './backend.js';
export { conformanceAdapter } from './conformance.js';
export { K8sExecutor } from './k8s-executor.js';
export { KubeApi, KubeForbiddenError } from './kube-api.js';
export {
  BACKEND_NAME,
  cordonLabels,
  cordonSelector,
  denyAllPolicyManifest,
  DENY_ALL_POLICY_NAME,
  hardenedPodManifest,
  namespaceManifest,
  policyProblem,
  POOL_LABEL,
  ROLE_LABEL,
  type HardenedPodSpec,
  type PodRole,
} from './manifests.js';
export {
  DEFAULT_IMAGE,
  DEFAULT_RUN_AS_USER,
  k8sOptionsSchema,
  parseK8sOptions,
  type K8sOptions,
  type K8sOptionsInput,
} from './options.js';
export { rbacManifests, rbacYaml, type RbacOptions } from './rbac.js';

export default backend;
