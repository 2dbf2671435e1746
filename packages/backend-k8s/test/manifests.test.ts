import { DEFAULT_LIMITS } from '@cordon/core';
import { LABELS, OWNER_ID } from '@cordon/core/backend';
import { describe, expect, it } from 'vitest';
import {
  cordonSelector,
  deadlineSeconds,
  denyAllPolicyManifest,
  DENY_ALL_POLICY_NAME,
  hardenedPodManifest,
  namespaceManifest,
  podCommand,
  podUid,
  policyProblem,
  resourcesFor,
  type HardenedPodSpec,
} from '../src/manifests.js';
import { parseK8sOptions } from '../src/options.js';
import { RUNTIME_WORKDIR as WORK_DIR, supervisorCommand } from '@cordon/core/backend';

const MiB = 1024 * 1024;

function spec(overrides: Partial<HardenedPodSpec> = {}, options: Record<string, unknown> = {}): HardenedPodSpec {
  return {
    name: 'cordon-abc',
    namespace: 'cordon-sandbox',
    role: 'sandbox',
    options: parseK8sOptions(options),
    command: ['node', '-e', 'check()'],
    stdin: true,
    limits: { memoryBytes: 256 * MiB, cpus: 0.5, diskBytes: 32 * MiB },
    activeDeadlineSeconds: 90,
    noNetwork: true,
    ...overrides,
  };
}

describe('hardenedPodManifest', () => {
  it('sets every hardening field the issue lists', () => {
    const pod = hardenedPodManifest(spec());
    const podSpec = pod.spec!;
    const container = podSpec.containers[0]!;
    expect(podSpec.restartPolicy).toBe('Never');
    expect(podSpec.activeDeadlineSeconds).toBe(90);
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(podSpec.enableServiceLinks).toBe(false);
    expect(podSpec.hostNetwork).toBe(false);
    expect(podSpec.hostPID).toBe(false);
    expect(podSpec.hostIPC).toBe(false);
    expect(podSpec.shareProcessNamespace).toBe(false);
    expect(podSpec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.stdin).toBe(true);
    expect(container.stdinOnce).toBe(true);
    expect(container.tty).toBe(false);
    expect(container.imagePullPolicy).toBe('Never');
    expect(container.image).toBe('cordon-runtime:0.3.0');
    expect(container.workingDir).toBe(WORK_DIR);
  });

  it('starts sandbox pods as a root supervisor with three capabilities, the program under its own uid', () => {
    const command = supervisorCommand({ kind: 'node', programUid: 654321, nproc: 64 });
    const pod = hardenedPodManifest(spec({ runAs: { kind: 'supervisor', programUid: 654321 }, command }));
    const podSpec = pod.spec!;
    const container = podSpec.containers[0]!;
    expect(podSpec.securityContext).toEqual({
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['SETUID', 'SETGID', 'KILL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.command).toEqual([
      'node',
      '--v8-pool-size=1',
      '/opt/cordon/runner/supervisor.cjs',
      '--kind',
      'node',
      '--uid',
      '654321',
      '--nproc',
      '64',
    ]);
    // Root cannot enter the program's working directory; the supervisor does, as the program.
    expect(container.workingDir).toBe('/');
    expect(pod.metadata!.annotations!['cordon.dev/program-uid']).toBe('654321');
    // Pseudo-terminals are hidden under runc (kernel.pty.max is node-wide), kept under gVisor.
    expect(container.volumeMounts).toContainEqual({ name: 'no-ptys', mountPath: '/dev/pts', readOnly: true });
    expect(podSpec.volumes).toContainEqual({ name: 'no-ptys', emptyDir: { medium: 'Memory', sizeLimit: '4Ki' } });
    const gvisor = hardenedPodManifest(
      spec({ runAs: { kind: 'supervisor', programUid: 654321 } }, { runtimeClassName: 'gvisor' }),
    );
    expect(gvisor.spec!.volumes!.map((volume) => volume.name)).toEqual(['tmp', 'work']);
    // Other cordon pods stay non-root without capabilities.
    expect(hardenedPodManifest(spec()).spec!.volumes!.map((volume) => volume.name)).toEqual(['tmp', 'work']);
  });

  it('puts cordon namespaces under Pod Security "baseline", the level supervisor pods need', () => {
    for (const role of ['tenant', 'control'] as const) {
      expect(namespaceManifest('ns', role).metadata!.labels).toMatchObject({
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      });
    }
  });

  it('derives requests and limits from the request limits', () => {
    const container = hardenedPodManifest(spec()).spec!.containers[0]!;
    expect(container.resources).toEqual({
      limits: { cpu: '500m', memory: String(256 * MiB) },
      requests: { cpu: '50m', memory: String(256 * MiB) },
    });
    expect(resourcesFor({ memoryBytes: DEFAULT_LIMITS.memoryBytes, cpus: 2 }, 1).requests).toEqual({
      cpu: '2000m',
      memory: String(512 * MiB),
    });
  });

  it('mounts size-limited memory-backed emptyDirs on /tmp and the working directory', () => {
    const pod = hardenedPodManifest(spec());
    expect(pod.spec!.volumes).toEqual([
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: String(32 * MiB) } },
      { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: String(32 * MiB) } },
    ]);
    expect(pod.spec!.containers[0]!.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'work', mountPath: WORK_DIR },
    ]);
  });

  it('labels the pod with the owner and role, and stamps an expiry for the reaper', () => {
    const pod = hardenedPodManifest(spec({ labels: { [LABELS.execution]: 'e1' } }));
    expect(pod.metadata!.labels).toEqual({
      [LABELS.managedBy]: 'cordon',
      [LABELS.backend]: 'k8s',
      [LABELS.owner]: OWNER_ID,
      [LABELS.execution]: 'e1',
      'cordon.dev/role': 'sandbox',
    });
    const expires = Date.parse(pod.metadata!.annotations!['cordon.dev/expires-at']!);
    expect(expires - Date.now()).toBeGreaterThan(85_000);
    expect(expires - Date.now()).toBeLessThan(95_000);
    expect(cordonSelector(OWNER_ID)).toBe(
      `cordon.dev/managed-by=cordon,cordon.dev/backend=k8s,cordon.dev/owner=${OWNER_ID}`,
    );
  });

  it('gives no-network pods no resolver and open pods the cluster one', () => {
    expect(hardenedPodManifest(spec()).spec!.dnsConfig).toEqual({ nameservers: ['127.0.0.1'] });
    expect(hardenedPodManifest(spec()).spec!.dnsPolicy).toBe('None');
    expect(hardenedPodManifest(spec({ noNetwork: false })).spec!.dnsPolicy).toBeUndefined();
  });

  it('points resolv.conf at the dns option when set', () => {
    const pod = hardenedPodManifest(spec({ noNetwork: false }, { dns: '192.0.2.2' }));
    expect(pod.spec!.dnsPolicy).toBe('None');
    expect(pod.spec!.dnsConfig).toEqual({ nameservers: ['192.0.2.2'] });
    expect(() => parseK8sOptions({ dns: 'not-an-ip' })).toThrow(/options\.dns/);
  });

  it('applies runtimeClassName, node selector, tolerations, pull secrets and image options', () => {
    const pod = hardenedPodManifest(
      spec(
        {},
        {
          runtimeClassName: 'gvisor',
          nodeSelector: 'sandbox.gke.io/runtime=gvisor,pool=sandbox',
          tolerations: '[{"key":"sandbox.gke.io/runtime","operator":"Equal","value":"gvisor","effect":"NoSchedule"}]',
          imagePullSecrets: 'regcred, other',
          image: 'europe-docker.pkg.dev/p/r/cordon-runtime:0.1.0',
          imagePullPolicy: 'IfNotPresent',
          runAsUser: '2000',
        },
      ),
    );
    const podSpec = pod.spec!;
    expect(podSpec.runtimeClassName).toBe('gvisor');
    expect(podSpec.nodeSelector).toEqual({ 'sandbox.gke.io/runtime': 'gvisor', pool: 'sandbox' });
    expect(podSpec.tolerations).toEqual([
      { key: 'sandbox.gke.io/runtime', operator: 'Equal', value: 'gvisor', effect: 'NoSchedule' },
    ]);
    expect(podSpec.imagePullSecrets).toEqual([{ name: 'regcred' }, { name: 'other' }]);
    expect(podSpec.containers[0]!.image).toBe('europe-docker.pkg.dev/p/r/cordon-runtime:0.1.0');
    expect(podSpec.containers[0]!.imagePullPolicy).toBe('IfNotPresent');
    expect(podSpec.securityContext!.runAsUser).toBe(2000);
  });

  it('leaves optional scheduling fields out when unset', () => {
    const podSpec = hardenedPodManifest(spec()).spec!;
    expect(podSpec.runtimeClassName).toBeUndefined();
    expect(podSpec.nodeSelector).toBeUndefined();
    expect(podSpec.tolerations).toBeUndefined();
    expect(podSpec.imagePullSecrets).toBeUndefined();
  });

  it('gives each pod a non-root uid of its own by default, or the fixed one', () => {
    const options = parseK8sOptions({});
    const uids = new Set(Array.from({ length: 20 }, () => podUid(options)));
    expect(uids.size).toBeGreaterThan(15);
    for (const uid of uids) expect(uid).toBeGreaterThanOrEqual(200_000);
    expect(podUid(parseK8sOptions({ runAsUser: '4242' }))).toBe(4242);
    const pod = hardenedPodManifest(spec({ runAs: { kind: 'non-root', uid: 123456 } }));
    expect(pod.spec!.securityContext!.runAsUser).toBe(123456);
    expect(pod.spec!.containers[0]!.securityContext!.runAsUser).toBe(123456);
  });

  it('caps open files, runs the gate, then execs the workload, and holds the container for the stream to drain', () => {
    const [shell, dashC, script, zero, ...rest] = podCommand({ command: ['node', 'r.cjs'], gateSource: 'GATE' });
    expect([shell, dashC]).toEqual(['/bin/bash', '-c']);
    expect(script).toContain('{ ulimit -n 1024 && node -e "$0" </dev/null && exec "$@"; } 0<&0 & wait $!');
    expect(script).toContain('sleep 2 & wait $!; exit $code');
    // RLIMIT_NPROC is the supervisor's to set, on the program only: never on the pod's root.
    expect(script).not.toContain('ulimit -u');
    expect([zero, ...rest]).toEqual(['GATE', 'node', 'r.cjs']);
    const [, , plain, plainZero] = podCommand({ command: ['node', 'r.cjs'] });
    expect(plain).toContain('{ ulimit -n 1024 && exec "$@"; } 0<&0 & wait $!');
    expect(plainZero).toBe('cordon');
  });

  it('computes activeDeadlineSeconds as budget plus grace', () => {
    expect(deadlineSeconds(120_000, 30_000)).toBe(180);
    expect(deadlineSeconds(1)).toBe(31);
  });
});

describe('deny-all NetworkPolicy', () => {
  it('selects every pod and denies all ingress and egress, DNS included', () => {
    const policy = denyAllPolicyManifest('tenant-a');
    expect(policy.metadata).toMatchObject({ name: DENY_ALL_POLICY_NAME, namespace: 'tenant-a' });
    expect(policy.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
    expect(policyProblem(policy)).toBeUndefined();
  });

  it('accepts the policy as the API server returns it (empty rule lists omitted)', () => {
    const returned = denyAllPolicyManifest('t');
    delete returned.spec!.ingress;
    delete returned.spec!.egress;
    expect(policyProblem(returned)).toBeUndefined();
  });

  it('rejects a loosened policy, and any other policy that allows traffic', () => {
    const dns = denyAllPolicyManifest('t');
    dns.spec!.egress = [{ ports: [{ port: 53, protocol: 'UDP' }] }];
    expect(policyProblem(dns)).toMatch(/egress allow rules/);
    const narrowed = denyAllPolicyManifest('t');
    narrowed.spec!.podSelector = { matchLabels: { app: 'x' } };
    expect(policyProblem(narrowed)).toMatch(/no longer selects every pod/);
    const ingressOnly = denyAllPolicyManifest('t');
    ingressOnly.spec!.policyTypes = ['Ingress'];
    expect(policyProblem(ingressOnly)).toMatch(/Ingress and Egress/);
    const other = { metadata: { name: 'allow-dns' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } };
    expect(policyProblem(other)).toMatch(/another NetworkPolicy "allow-dns" allows egress/);
    const harmless = { metadata: { name: 'deny-more' }, spec: { podSelector: {}, policyTypes: ['Egress'] } };
    expect(policyProblem(harmless)).toBeUndefined();
  });
});
