#!/usr/bin/env node
// k8s tier: proves the test cluster is real and enforces NetworkPolicy.
//
//   1. a pod reaches a canary pod on the pod network (nonce seen in the canary's log),
//      directly and through a ClusterIP Service (kube-proxy);
//   2. a deny-all egress NetworkPolicy on the probe's namespace stops the same
//      probe (nonce never arrives) while a control pod elsewhere still gets through;
//   3. removing the policy lets the probe through again.
// Then, reported separately (informational): whether a pod under deny-all egress
// reaches the node's own addresses (kubelet port, a listener on the host).
//
// Usage: node cluster/test/network-policy.mjs   (cluster from `pnpm cluster:up`)
// Env: KUBECONFIG (default /var/lib/cordon-k8s/kubeconfig/admin.kubeconfig),
//      KUBECTL (default /var/cache/cordon/k8s/bin/kubectl).
// Exits 1 if a step fails; everything it creates carries its run label and is deleted.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KUBECONFIG = process.env.KUBECONFIG ?? '/var/lib/cordon-k8s/kubeconfig/admin.kubeconfig';
const KUBECTL = process.env.KUBECTL ?? '/var/cache/cordon/k8s/bin/kubectl';
const IMAGE = process.env.CORDON_K8S_CANARY_IMAGE ?? 'cordon.local/k8s-canary:busybox';
const RUN_ID = randomBytes(4).toString('hex');
const LABELS = { 'cordon.dev/test': 'k8s-network-policy', 'cordon.dev/test-run': RUN_ID };
const LABEL_SELECTOR = `cordon.dev/test-run=${RUN_ID}`;
const NS = {
  canary: `cordon-np-${RUN_ID}-canary`,
  probe: `cordon-np-${RUN_ID}-probe`,
  control: `cordon-np-${RUN_ID}-control`,
};
const CANARY_PORT = 8080;
const ENFORCE_TIMEOUT_MS = 60_000;

const results = [];
const findings = [];
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`[k8s-netpol ${elapsed()}] ${msg}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nonce = (tag) => `nonce-${RUN_ID}-${tag}-${randomBytes(4).toString('hex')}`;

async function kubectl(args, { input, timeoutMs = 60_000 } = {}) {
  const child = execFile(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  const done = new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  return done;
}

const apply = (obj) => kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
const meta = (name, namespace, extra = {}) => ({
  name,
  ...(namespace ? { namespace } : {}),
  labels: { ...LABELS, ...extra },
});

function pod(name, namespace, command, extraLabels = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(name, namespace, extraLabels),
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'Never', command: ['/bin/sh', '-c', command] }],
    },
  };
}

// The canary logs every line it is sent (stderr -> pod log) and acknowledges it.
const CANARY_SCRIPT = [
  `printf '#!/bin/sh\\nread -r line\\necho "canary received: $line" >&2\\necho "ack $line"\\n' > /tmp/handler`,
  'chmod +x /tmp/handler',
  `exec nc -ll -p ${CANARY_PORT} -e /tmp/handler`,
].join(' && ');

/**
 * Sends a nonce from a pod to ip:port. `ran` is false when the probe itself could
 * not run (exec failed): such a probe proves nothing either way.
 */
async function probe(namespace, podName, ip, port, payload) {
  try {
    const out = await kubectl(
      ['exec', '-n', namespace, podName, '--', 'sh', '-c', `echo ${payload} | nc -w 3 ${ip} ${port}; echo "rc=$?"`],
      { timeoutMs: 20_000 },
    );
    return { ran: /rc=\d+\s*$/.test(out), connected: /rc=0\s*$/.test(out), output: out.trim() };
  } catch (error) {
    return { ran: false, connected: false, output: String(error.message) };
  }
}

/** Waits for a pod to be Ready; on timeout the error carries the pod's events. */
async function waitReady(namespace, name) {
  try {
    await kubectl(['wait', '-n', namespace, `pod/${name}`, '--for=condition=Ready', '--timeout=120s'], {
      timeoutMs: 130_000,
    });
  } catch (error) {
    const events = await kubectl([
      'get',
      'events',
      '-n',
      namespace,
      '--field-selector',
      `involvedObject.name=${name}`,
    ]).catch((e) => e.message);
    throw new Error(`${error.message}\n${events}`);
  }
}

async function canaryLog() {
  return kubectl(['logs', '-n', NS.canary, 'canary']);
}

/** Waits briefly for a nonce to show in the canary's log (logs are written asynchronously). */
async function canarySaw(payload, waitMs = 5_000) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if ((await canaryLog()).includes(`canary received: ${payload}`)) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

async function step(name, fn) {
  say(`STEP ${name}`);
  try {
    const detail = await fn();
    results.push({ name, ok: true, detail });
    say(`  PASS ${name}${detail ? `: ${detail}` : ''}`);
    return true;
  } catch (error) {
    results.push({ name, ok: false, detail: error.message });
    say(`  FAIL ${name}: ${error.message}`);
    return false;
  }
}

async function reachesCanary(namespace, podName, ip, tag) {
  const payload = nonce(tag);
  const result = await probe(namespace, podName, ip, CANARY_PORT, payload);
  return { delivered: result.connected && (await canarySaw(payload)), payload, result };
}

function nodeAddress() {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? [])
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.17.')) return a.address;
  }
  throw new Error('no node IPv4 address found');
}

async function hostListener(address) {
  const received = [];
  const server = createServer((socket) => {
    socket.setEncoding('utf8');
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => {
      received.push(data.trim());
      socket.end('ack\n');
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve, reject) => server.listen(0, address, resolve).once('error', reject));
  return { server, port: server.address().port, received };
}

async function cleanup() {
  say('cleanup: deleting everything labelled ' + LABEL_SELECTOR);
  try {
    await kubectl(['delete', 'namespace', '-l', LABEL_SELECTOR, '--wait=true', '--timeout=120s'], {
      timeoutMs: 150_000,
    });
    const left = await kubectl(['get', 'namespace', '-l', LABEL_SELECTOR, '-o', 'name']);
    if (left.trim()) throw new Error(`still present: ${left.trim()}`);
    say('cleanup: done, nothing left');
  } catch (error) {
    results.push({ name: 'cleanup', ok: false, detail: error.message });
    say(`FAIL cleanup: ${error.message}`);
  }
}

async function main() {
  say(`run ${RUN_ID}; kubeconfig ${KUBECONFIG}`);
  await kubectl(['get', 'nodes', '-o', 'wide']).then((o) => console.log(o.trimEnd()));
  const runtimeClasses = await kubectl(['get', 'runtimeclass', '-o', 'name']).catch(() => '');
  const haveGvisor = runtimeClasses.includes('runtimeclass.node.k8s.io/runsc');

  for (const ns of Object.values(NS)) await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: meta(ns) });
  await apply(pod('canary', NS.canary, CANARY_SCRIPT, { app: 'canary' }));
  await apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('canary', NS.canary),
    spec: { selector: { app: 'canary' }, ports: [{ port: CANARY_PORT, targetPort: CANARY_PORT }] },
  });
  // The probes whose egress the policy must stop: a runc pod, and a gVisor pod when
  // the runsc RuntimeClass exists (its netstack still leaves through the pod's veth).
  const probes = ['probe'];
  await apply(pod('probe', NS.probe, 'exec sleep 3600'));
  if (haveGvisor) {
    const gvisor = pod('probe-gvisor', NS.probe, 'dmesg | head -1; exec sleep 3600');
    gvisor.spec.runtimeClassName = 'runsc';
    await apply(gvisor);
    probes.push('probe-gvisor');
  } else {
    findings.push('no runsc RuntimeClass in this cluster: gVisor not tested');
  }
  await apply(pod('control', NS.control, 'exec sleep 3600'));
  await waitReady(NS.canary, 'canary');
  await waitReady(NS.control, 'control');
  for (const name of probes) await waitReady(NS.probe, name);
  const canaryIP = (await kubectl(['get', 'pod', '-n', NS.canary, 'canary', '-o', 'jsonpath={.status.podIP}'])).trim();
  const serviceIP = (
    await kubectl(['get', 'service', '-n', NS.canary, 'canary', '-o', 'jsonpath={.spec.clusterIP}'])
  ).trim();
  say(`pods ready; canary pod ${canaryIP}, service ${serviceIP}; probes: ${probes.join(', ')}`);

  if (haveGvisor) {
    await step('0 the gVisor probe runs under gVisor', async () => {
      const log = await kubectl(['logs', '-n', NS.probe, 'probe-gvisor']);
      if (!/gVisor/i.test(log)) throw new Error(`dmesg in the runsc pod does not show gVisor: ${log.trim()}`);
      return `dmesg says: ${log.trim()}`;
    });
  }

  const step1 = await step('1 pods reach the canary without a policy', async () => {
    for (const [ns, name] of [[NS.control, 'control'], ...probes.map((p) => [NS.probe, p])]) {
      const r = await reachesCanary(ns, name, canaryIP, `s1-${name}`);
      if (!r.delivered) throw new Error(`${name} -> ${canaryIP}: nonce ${r.payload} not seen (${r.result.output})`);
    }
    const viaService = await reachesCanary(NS.control, 'control', serviceIP, 's1-svc');
    if (!viaService.delivered)
      throw new Error(`control -> service ${serviceIP}: nonce not seen (${viaService.result.output})`);
    return `${['control', ...probes].join(', ')} delivered nonces directly; control also through the Service`;
  });
  if (!step1) return;

  // Host-side canaries for the node-address question: the node IP and the bridge gateway.
  const nodeIP = nodeAddress();
  const listeners = {};
  for (const addr of [nodeIP, '10.244.0.1']) listeners[addr] = await hostListener(addr);
  const hostReach = async (name, addr) => {
    const l = listeners[addr];
    const payload = nonce(`host-${name}`);
    const r = await probe(NS.probe, name, addr, l.port, payload);
    if (!r.ran) throw new Error(`${name} -> ${addr}: the probe did not run (${r.output})`);
    await sleep(300);
    return r.connected && l.received.includes(payload);
  };
  const kubeletReach = async (name) => {
    const r = await probe(NS.probe, name, nodeIP, 10250, 'x');
    if (!r.ran) throw new Error(`${name} -> kubelet: the probe did not run (${r.output})`);
    return r.connected;
  };
  const nodeReach = async (name) => ({
    kubelet: await kubeletReach(name),
    hostNodeIP: await hostReach(name, nodeIP),
    hostGateway: await hostReach(name, '10.244.0.1'),
  });
  const baseline = {};
  for (const name of probes) baseline[name] = await nodeReach(name);
  say(`baseline (no policy): ${JSON.stringify(baseline)}`);

  await apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta('deny-all-egress', NS.probe),
    spec: { podSelector: {}, policyTypes: ['Egress'], egress: [] },
  });
  const appliedAt = Date.now();

  await step('2 deny-all egress stops the probes; the control pod still gets through', async () => {
    const details = [];
    for (const name of probes) {
      // kube-router applies policies asynchronously: poll, then require 3 blocked probes in a row.
      let blockedInRow = 0;
      let lastOutput = '';
      while (blockedInRow < 3) {
        if (Date.now() - appliedAt > ENFORCE_TIMEOUT_MS)
          throw new Error(`${name}: policy not enforced after ${ENFORCE_TIMEOUT_MS} ms (last probe: ${lastOutput})`);
        const r = await reachesCanary(NS.probe, name, canaryIP, `s2-${name}`);
        lastOutput = r.result.output.replace(/\s+/g, ' ');
        if (!r.result.ran) continue; // exec trouble is not a blocked connection
        if (r.delivered || (await canarySaw(r.payload, 1_000))) blockedInRow = 0;
        else blockedInRow++;
      }
      const viaService = await reachesCanary(NS.probe, name, serviceIP, `s2-${name}-svc`);
      if (viaService.delivered) throw new Error(`${name} still reaches the canary through its Service`);
      if (!viaService.result.ran)
        throw new Error(`${name}: the probe through the Service did not run (${viaService.result.output})`);
      details.push(
        `${name} blocked by ${Date.now() - appliedAt} ms (direct and via Service; probe said: ${lastOutput})`,
      );
    }
    const control = await reachesCanary(NS.control, 'control', canaryIP, 's2-control');
    if (!control.delivered)
      throw new Error(
        `control pod lost the canary too (${control.result.output}): the block is not the policy's doing`,
      );
    return `${details.join('; ')}; control still delivered`;
  });

  for (const name of probes) {
    const denied = await nodeReach(name);
    const b = baseline[name];
    const word = (v) => (v ? 'REACHABLE' : 'blocked');
    findings.push(
      `${name}: kubelet ${nodeIP}:10250 under deny-all egress: ${word(denied.kubelet)} (without policy: ${word(b.kubelet)})`,
      `${name}: host listener on node IP ${nodeIP} under deny-all egress: ${word(denied.hostNodeIP)} (without policy: ${word(b.hostNodeIP)})`,
      `${name}: host listener on bridge gateway 10.244.0.1 under deny-all egress: ${word(denied.hostGateway)} (without policy: ${word(b.hostGateway)})`,
    );
  }
  for (const l of Object.values(listeners)) l.server.close();

  await kubectl(['delete', 'networkpolicy', '-n', NS.probe, 'deny-all-egress']);
  const removedAt = Date.now();
  await step('3 removing the policy lets the probes through again', async () => {
    const details = [];
    for (const name of probes) {
      for (;;) {
        const r = await reachesCanary(NS.probe, name, canaryIP, `s3-${name}`);
        if (r.delivered) break;
        if (Date.now() - removedAt > ENFORCE_TIMEOUT_MS)
          throw new Error(
            `${name} still blocked ${ENFORCE_TIMEOUT_MS} ms after deleting the policy (${r.result.output})`,
          );
      }
      details.push(`${name} delivered ${Date.now() - removedAt} ms after the policy was deleted`);
    }
    return details.join('; ');
  });
}

let crashed;
try {
  await main();
} catch (error) {
  crashed = error;
  say(`ERROR ${error.stack ?? error}`);
} finally {
  await cleanup();
}

console.log('\n== k8s network-policy test ==');
for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.detail ? ` — ${r.detail}` : ''}`);
if (findings.length) {
  console.log('-- node-address findings (informational) --');
  for (const f of findings) console.log(`  ${f}`);
}
const failed = crashed !== undefined || results.length === 0 || results.some((r) => !r.ok);
console.log(failed ? `RESULT: FAIL (${elapsed()})` : `RESULT: PASS (${elapsed()})`);
process.exit(failed ? 1 : 0);
