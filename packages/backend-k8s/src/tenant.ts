import type { Interpreter } from './interpreter.js';
import { verifyIsolation } from './isolation-check.js';
import type { KubeApi } from './kube-api.js';
import type { ParsedK8sOptions } from './options.js';
import { checkPolicies, ensureDenyAllPolicy, ensureNamespace } from './tenant-guard.js';
import { debug } from '@cordon/core/backend';

/** Passed (or running) isolation checks, per cluster and tenant; see Tenant#verifyOnce. */
const VERIFIED_TENANTS = new Map<string, Promise<void>>();

/**
 * The namespaces an executor's pods run in: the tenant namespace behind the deny-all
 * NetworkPolicy, and the unrestricted namespace. Every failure around the
 * policy is an IsolationRefusedError (fail closed).
 */
export class Tenant {
  readonly #api: KubeApi;
  readonly #options: ParsedK8sOptions;
  /** Labels for the isolation check's pods (the executor's instance), so close() finds them. */
  readonly #probeLabels: Record<string, string>;

  constructor(params: { api: KubeApi; options: ParsedK8sOptions; probeLabels: Record<string, string> }) {
    this.#api = params.api;
    this.#options = params.options;
    this.#probeLabels = params.probeLabels;
  }

  get namespaces(): readonly [tenant: string, unrestricted: string] {
    return [this.#options.namespace, this.#options.unrestrictedNamespace];
  }

  /**
   * Namespaces, the deny-all policy (checked as created) and, if enabled, the
   * enforcement probe, whose pods run `interpreter` of the image (default node) and
   * its probe pod's first process `shell` (default /bin/bash).
   */
  async setUp(params: { interpreter?: Interpreter; shell?: string | undefined } = {}): Promise<void> {
    await this.ensureNamespaces();
    if (this.#options.verifyIsolation) await this.#verifyOnce(params.interpreter ?? 'node', params.shell);
  }

  /** The namespaces and the tenant's deny-all policy (checked as created); idempotent. */
  async ensureNamespaces(): Promise<void> {
    const { namespace, unrestrictedNamespace, createNamespaces } = this.#options;
    await ensureNamespace(this.#api, namespace, 'tenant', createNamespaces);
    // Its namespace-role label keeps the value `control`, so namespaces made by earlier versions match.
    await ensureNamespace(this.#api, unrestrictedNamespace, 'control', createNamespaces);
    await ensureDenyAllPolicy(this.#api, namespace);
  }

  /**
   * Re-checks the policy objects (cheap: one list), before every pod, so a policy deleted
   * or loosened after setup stops new runs instead of letting them out.
   */
  checkPolicies(signal?: AbortSignal): Promise<void> {
    return checkPolicies(this.#api, this.#options.namespace, signal);
  }

  /**
   * The enforcement probe runs once per tenant per process: executors of the same
   * cluster, tenant, unrestricted namespace and image share a passed check. A failed one
   * is not kept, so the next setup tries again.
   */
  async #verifyOnce(interpreter: Interpreter, shell: string | undefined): Promise<void> {
    const { namespace, unrestrictedNamespace, image, runtimeClassName } = this.#options;
    const key = JSON.stringify([this.#api.server, namespace, unrestrictedNamespace, image, runtimeClassName ?? '']);
    let check = VERIFIED_TENANTS.get(key);
    if (!check) {
      check = verifyIsolation(this.#api, this.#options, this.#probeLabels, undefined, {
        interpreter,
        ...(shell ? { shell } : {}),
      });
      VERIFIED_TENANTS.set(key, check);
      // Not cached when it fails; the caller sees the error through `await check`.
      check.catch((error: unknown) => {
        debug('k8s.tenant', () => `isolation check of namespace ${namespace} failed, not cached`, error);
        return VERIFIED_TENANTS.delete(key);
      });
    }
    await check;
  }
}
