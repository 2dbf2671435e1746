import type { DEFAULT_LIMITS, NormalizedRequest } from '@cordon/core';
import type { V1Pod } from '@kubernetes/client-node';
import { EXECUTOR_LABEL, hardenedPodManifest, podCommand, podUid } from './manifests.js';
import { gateCommand } from './network-gate.js';
import type { ParsedK8sOptions } from './options.js';
import { foreignSupervisorCommand, supervisorCommand, type ImageTools, type RunnerKind } from '@cordon/core/backend';

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
  /** A user's own image: its tools (the runner then arrives over the attach). Absent: cordon's image. */
  tools?: ImageTools | undefined;
}

/**
 * limits.pids is applied per pod only when each pod has a uid of its own, and (in a
 * user's image) when the supervisor can set RLIMIT_NPROC: node's needs prlimit,
 * python's sets it itself.
 */
export function appliesPidsPerPod(options: ParsedK8sOptions, tools?: ImageTools): boolean {
  if (tools?.node && !tools.prlimit) return false;
  return options.runAsUser === 'per-pod';
}

/** A hardened pod whose root supervisor runs one program as the pod's own non-root uid. */
export function sandboxPodManifest(spec: SandboxPodSpec): V1Pod {
  const { options, limits, noNetwork, tools } = spec;
  const programUid = podUid(options);
  const nproc = appliesPidsPerPod(options, tools) ? limits.pids : undefined;
  const gate = noNetwork
    ? gateCommand({ interpreter: tools && !tools.node ? 'python' : 'node', timeoutMs: options.networkGateTimeoutMs })
    : {};
  return hardenedPodManifest({
    name: spec.name,
    namespace: spec.namespace,
    role: 'sandbox',
    options,
    labels: { ...spec.labels, [EXECUTOR_LABEL]: spec.executorId },
    runAs: { kind: 'supervisor', programUid },
    // Pods behind the policy wait until it holds for them before the supervisor takes code.
    command: podCommand({
      command: tools
        ? foreignSupervisorCommand({ tools, kind: spec.kind, programUid, nproc })
        : supervisorCommand({ kind: spec.kind, programUid, nproc }),
      ...gate,
      ...(tools?.sh ? { shell: tools.sh } : {}),
    }),
    runnerVolume: tools !== undefined,
    stdin: true,
    limits,
    activeDeadlineSeconds: spec.activeDeadlineSeconds,
    noNetwork,
  });
}
