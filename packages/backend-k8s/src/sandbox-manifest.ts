import type { DEFAULT_LIMITS, NormalizedRequest } from '@cordon/core';
import type { V1Pod } from '@kubernetes/client-node';
import { EXECUTOR_LABEL, hardenedPodManifest, podCommand, podUid } from './manifests.js';
import { gateSource } from './network-gate.js';
import type { ParsedK8sOptions } from './options.js';
import { supervisorCommand, type RunnerKind } from '@cordon/core/backend';

/** What one sandbox pod is made of; the rest comes from the options. */
export interface SandboxPodSpec {
  name: string;
  namespace: string;
  options: ParsedK8sOptions;
  /** The executor instance that owns the pod (its label), so close() never touches another's. */
  executorId: string;
  kind: RunnerKind;
  limits: NormalizedRequest['limits'] | typeof DEFAULT_LIMITS;
  activeDeadlineSeconds: number;
  /** Behind the deny-all policy (the tenant namespace), as opposed to the unrestricted namespace. */
  noNetwork: boolean;
  labels: Record<string, string>;
}

/** limits.pids is applied per pod only when each pod has a uid of its own. */
export function appliesPidsPerPod(options: ParsedK8sOptions): boolean {
  return options.runAsUser === 'per-pod';
}

/** A hardened pod whose root supervisor runs one program as the pod's own non-root uid. */
export function sandboxPodManifest(spec: SandboxPodSpec): V1Pod {
  const { options, limits, noNetwork } = spec;
  const programUid = podUid(options);
  return hardenedPodManifest({
    name: spec.name,
    namespace: spec.namespace,
    role: 'sandbox',
    options,
    labels: { ...spec.labels, [EXECUTOR_LABEL]: spec.executorId },
    runAs: { kind: 'supervisor', programUid },
    // Pods behind the policy wait until it holds for them before the supervisor takes code.
    command: podCommand({
      command: supervisorCommand({
        kind: spec.kind,
        programUid,
        nproc: appliesPidsPerPod(options) ? limits.pids : undefined,
      }),
      gateSource: noNetwork ? gateSource(options.networkGateTimeoutMs) : undefined,
    }),
    stdin: true,
    limits,
    activeDeadlineSeconds: spec.activeDeadlineSeconds,
    noNetwork,
  });
}
