import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CordonError, IsolationRefusedError } from '@cordon/core';
import type { KubeApi } from './kube-api.js';
import { BACKEND_NAME, deadlineSeconds, hardenedPodManifest, podCommand, type PodRole } from './manifests.js';
import type { ParsedK8sOptions } from './options.js';
import { gateSource } from './network-gate.js';
import { createPod, deletePod, waitForRunning } from './pod-lifecycle.js';

export const CANARY_TCP_PORT = 8080;
export const CANARY_UDP_PORT = 8053;

/** Logs every TCP line and UDP datagram it receives; answers TCP with `ok`. */
const CANARY_SOURCE = `
const net = require('node:net'); const dgram = require('node:dgram');
net.createServer((socket) => { socket.on('error', () => {}); socket.on('data', (data) => { process.stdout.write('tcp ' + data.toString().trim() + '\\n'); socket.end('ok\\n'); }); }).listen(${CANARY_TCP_PORT}, '0.0.0.0');
const udp = dgram.createSocket('udp4'); udp.on('message', (data) => process.stdout.write('udp ' + data.toString().trim() + '\\n')); udp.bind(${CANARY_UDP_PORT}, '0.0.0.0');
setInterval(() => {}, 1 << 30);
`;

/** Sends the nonce over TCP (retrying until answered, or once) and over UDP. */
function senderSource(host: string, nonce: string, untilAnswered: boolean): string {
  return `
const net = require('node:net'); const dgram = require('node:dgram');
const udp = dgram.createSocket('udp4'); udp.on('error', () => {});
for (let i = 0; i < 5; i++) setTimeout(() => udp.send(Buffer.from(${JSON.stringify(nonce)}), ${CANARY_UDP_PORT}, ${JSON.stringify(host)}, () => {}), i * 200);
const started = Date.now();
function attempt() {
  const socket = net.connect({ host: ${JSON.stringify(host)}, port: ${CANARY_TCP_PORT}, timeout: 3000 });
  let answered = false;
  socket.on('connect', () => socket.write(${JSON.stringify(nonce)} + '\\n'));
  socket.on('data', () => { answered = true; socket.end(); });
  const retry = () => { socket.destroy(); if (!answered && ${untilAnswered} && Date.now() - started < 30000) setTimeout(attempt, 300); else done(answered); };
  socket.on('timeout', retry); socket.on('error', retry); socket.on('close', () => { if (answered) done(true); });
}
let finished = false;
function done(ok) { if (finished) return; finished = true; setTimeout(() => { udp.close(); process.stdout.write(ok ? 'reached\\n' : 'missed\\n'); process.exit(0); }, 1200); }
attempt();
`;
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
): Promise<void> {
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
        ? podCommand({ command: ['node', '-e', source], gateSource: gateSource(options.networkGateTimeoutMs) })
        : ['node', '-e', source],
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
    const canary = await pod(options.unrestrictedNamespace, 'canary', CANARY_SOURCE, false);
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
      senderSource(canaryIp, controlNonce, true),
      false,
    );
    const probe = await pod(options.namespace, 'isolation-probe', senderSource(canaryIp, probeNonce, false), true);
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
