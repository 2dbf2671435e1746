// The package's public surface: the backend (the loader's contract), the executor, its
// options, the RBAC generator and the conformance adapter. Manifests, the API client
// and the pod lifecycle are internals.
import { backend } from './backend.js';

export { backend } from './backend.js';
export { conformanceAdapter } from './conformance.js';
export { K8sExecutor } from './k8s-executor.js';
export { KubeForbiddenError } from './kube-api.js';
export {
  DEFAULT_IMAGE,
  DEFAULT_RUN_AS_USER,
  k8sOptionsSchema,
  parseK8sOptions,
  type K8sOptions,
  type K8sOptionsInput,
  type K8sToleration,
  type ParsedK8sOptions,
} from './options.js';
export { rbacManifests, rbacYaml, type RbacOptions } from './rbac.js';

export default backend;
