import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CordonError, IsolationRefusedError } from '@cordon/core';
import type { KubeApi } from './kube-api.js';
import { BACKEND_NAME, deadlineSeconds, hardenedPodManifest, podCommand, type PodRole } from './manifests.js';
import type { ParsedK8sOptions } from './options.js';
import { gateCommand } from './network-gate.js';
import { checkInterpreter, interpreterCommand, type Interpreter } from './interpreter.js';
import { canarySource, senderSource } from './isolation-probes.js';
import { createPod, deletePod, waitForRunning } from './pod-lifecycle.js';

// Where they always were, for importers of this module.
export { CANARY_TCP_PORT, CANARY_UDP_PORT } from './isolation-probes.js';

export interface IsolationCheckOptions {
  /** Which interpreter of the image runs the canary, control and probe pods and the probe's gate; default node. */
  interpreter?: Interpreter | undefined;
  /** The image's shell for the probe pod's first process (see podCommand); default /bin/bash. */
  shell?: string | undefined;
}

/**
 * Proves the tenant namespace's policy is enforced, not merely stored: a canary pod
 * runs in the unrestricted namespace, a control pod there must reach it (TCP and UDP,
 * seen in the canary's log) and a probe pod in the tenant namespace must not. A
 * plugin that ignores NetworkPolicy, or a network that blocks everything anyway,
 * both fail this check, and then nothing runs (fail closed).
 */
export async function verifyIsolation(
  api: KubeApi,
  options: ParsedK8sOptions,
  labels: Record<string, string>,
  signal?: AbortSignal,
  check: IsolationCheckOptions = {},
): Promise<void> {
  const interpreter = checkInterpreter('interpreter', check.interpreter ?? 'node');
  const nonce = randomBytes(6).toString('hex');
  const controlNonce = `cordon-control-${nonce}`;
  const probeNonce = `cordon-probe-${nonce}`;
  const made: Array<{ namespace: string; name: string }> = [];
  const pod = async (namespace: string, role: PodRole, source: string, noNetwork: boolean) => {
    const name = `cordon-${role}-${nonce}`;
    const manifest = hardenedPodManifest({
      // The probe goes through the same gate as sandbox pods: what is verified is the state they run in.
      name,
      namespace,
      role,
      options,
      labels,
      command: noNetwork
        ? podCommand({
            command: interpreterCommand(interpreter, source),
            ...gateCommand({ interpreter, timeoutMs: options.networkGateTimeoutMs }),
            ...(check.shell ? { shell: check.shell } : {}),
          })
        : interpreterCommand(interpreter, source),
      stdin: false,
      noNetwork,
      limits: { memoryBytes: 128 * 1024 * 1024, cpus: 0.5, diskBytes: 1024 * 1024 },
      activeDeadlineSeconds: deadlineSeconds(options.podStartTimeoutMs, 60_000),
    });
    made.push({ namespace, name });
    await createPod(api, manifest, signal);
    return name;
  };
  try {
    const canary = await pod(options.unrestrictedNamespace, 'canary', canarySource(interpreter), false);
    const running = await waitForRunning(
      api,
      options.unrestrictedNamespace,
      canary,
      options.image,
      options.podStartTimeoutMs,
      signal,
    );
    const canaryIp = running.status?.podIP;
    if (!canaryIp) throw refusal('the canary pod has no IP address');
    const control = await pod(
      options.unrestrictedNamespace,
      'control',
      senderSource(interpreter, { host: canaryIp, nonce: controlNonce, untilAnswered: true }),
      false,
    );
    const probe = await pod(
      options.namespace,
      'isolation-probe',
      senderSource(interpreter, { host: canaryIp, nonce: probeNonce, untilAnswered: false }),
      true,
    );
    const [, probeDone] = await Promise.all([
      waitForRunning(
        api,
        options.unrestrictedNamespace,
        control,
        options.image,
        options.podStartTimeoutMs + 40_000,
        signal,
        'completed',
      ),
      waitForRunning(
        api,
        options.namespace,
        probe,
        options.image,
        options.podStartTimeoutMs + options.networkGateTimeoutMs + 40_000,
        signal,
        'completed',
      ),
    ]);
    await sleep(300, undefined, { signal });
    const log = await api.call(
      `get pods/log in namespace ${options.unrestrictedNamespace}`,
      (callOptions) =>
        api.core.readNamespacedPodLog(
          { name: canary, namespace: options.unrestrictedNamespace, container: 'sandbox' },
          callOptions,
        ),
      { signal },
    );
    const lines = log.split('\n');
    const controlTcp = lines.includes(`tcp ${controlNonce}`);
    const controlUdp = lines.includes(`udp ${controlNonce}`);
    if (!controlTcp || !controlUdp) {
      throw refusal(
        `the control pod in namespace ${options.unrestrictedNamespace} could not reach the canary pod (${controlTcp ? '' : 'TCP '}${controlUdp ? '' : 'UDP '}missing), so a blocked probe would prove nothing`,
      );
    }
    const leaked = lines.filter((line) => line.endsWith(probeNonce));
    if (leaked.length > 0) {
      throw refusal(
        `a pod in namespace ${options.namespace} reached the canary (${leaked.map((line) => line.split(' ')[0]).join(', ')}) despite the deny-all NetworkPolicy: the cluster's network plugin does not enforce NetworkPolicy`,
      );
    }
    const terminated = probeDone.status?.containerStatuses?.[0]?.state?.terminated;
    if (terminated?.exitCode !== 0 && probeDone.status?.phase !== 'Succeeded') {
      throw refusal(
        `the isolation probe pod did not complete (${terminated ? `exit ${terminated.exitCode}` : (probeDone.status?.phase ?? 'gone')}${terminated?.message ? `: ${terminated.message}` : ''})`,
      );
    }
  } catch (error) {
    if (error instanceof IsolationRefusedError) throw error;
    if (signal?.aborted) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof CordonError && error.code === 'BACKEND_UNAVAILABLE') throw error;
    throw new IsolationRefusedError(
      BACKEND_NAME,
      'network',
      `could not be verified in namespace ${options.namespace}: ${reason}`,
      'Fix the cause above; the check runs canary and control pods in the unrestrictedNamespace and a probe pod in the tenant namespace.',
      { cause: error },
    );
  } finally {
    await Promise.allSettled(made.map(({ namespace, name }) => deletePod(api, namespace, name)));
  }
}

function refusal(reason: string): IsolationRefusedError {
  return new IsolationRefusedError(
    BACKEND_NAME,
    'network',
    `isolation check failed: ${reason}`,
    'Enable a network plugin that enforces NetworkPolicy (GKE: Dataplane V2; elsewhere Calico, Cilium or kube-router) and make sure pods in the unrestricted namespace can reach each other.',
  );
}
