import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where the in-cluster service account's token is mounted in a pod. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where the Kubernetes configuration comes from, or where it was looked for in vain. */
export type KubeconfigSource =
  | { kind: 'file'; path: string }
  | { kind: 'env'; paths: string[] }
  | { kind: 'home'; path: string }
  | { kind: 'in-cluster' }
  | { kind: 'none'; lookedAt: string[] };

export interface KubeconfigLookup {
  /** The `kubeconfig` option. */
  kubeconfig?: string | undefined;
  env?: NodeJS.ProcessEnv;
  home?: string;
  exists?: (path: string) => boolean;
}

/**
 * The same chain as the client library's `loadFromDefault` (KUBECONFIG, ~/.kube/config,
 * the pod's service account), decided here because the library, finding nothing,
 * falls back to http://localhost:8080 and later fails with a message about TLS.
 */
export function findKubeconfig(lookup: KubeconfigLookup = {}): KubeconfigSource {
  const env = lookup.env ?? process.env;
  const exists = lookup.exists ?? existsSync;
  if (lookup.kubeconfig !== undefined) return { kind: 'file', path: lookup.kubeconfig };
  const lookedAt: string[] = [];
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((path) => exists(path));
    if (present.length > 0) return { kind: 'env', paths: present };
    lookedAt.push(`KUBECONFIG=${env.KUBECONFIG} (no such file)`);
  } else {
    lookedAt.push('KUBECONFIG (not set)');
  }
  const home = join(lookup.home ?? homedir(), '.kube', 'config');
  if (exists(home)) return { kind: 'home', path: home };
  lookedAt.push(`${home} (no such file)`);
  if (env.KUBERNETES_SERVICE_HOST && exists(SERVICE_ACCOUNT_TOKEN)) return { kind: 'in-cluster' };
  lookedAt.push(
    `a pod's service account (${env.KUBERNETES_SERVICE_HOST ? `no ${SERVICE_ACCOUNT_TOKEN}` : 'not in a pod'})`,
  );
  return { kind: 'none', lookedAt };
}
