import { BackendUnavailableError, IsolationRefusedError, type Executor } from '@cordon/core';
import { OWNER_ID } from '@cordon/core/backend';
import {
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { K8sExecutor, rbacManifests } from '../src/index.js';
import { announceSkip, clusterTier } from './cluster-tier.js';

const tier = clusterTier();
if (!tier.kubeconfig && !tier.required) announceSkip(tier.why);

describe.runIf(!tier.kubeconfig && tier.required)('k8s cluster tier (required)', () => {
  it('has a cluster to run against', () => {
    expect.fail(
      `CORDON_REQUIRE_TIERS requires the k8s tier, but ${tier.why}. Run: KUBECONFIG=$(pnpm -s cluster:up | tail -1)`,
    );
  });
});

// Namespaces of this test run only, removed afterwards.
const tenant = `cordon-t-${OWNER_ID}`;
const unrestricted = `cordon-c-${OWNER_ID}`;

describe.runIf(tier.kubeconfig !== undefined)('k8s backend on a real cluster', () => {
  let executor: K8sExecutor;
  const admin = new KubeConfig();
  let core: CoreV1Api;
  let networking: NetworkingV1Api;
  const made: string[] = [];

  beforeAll(async () => {
    admin.loadFromFile(tier.kubeconfig!);
    core = admin.makeApiClient(CoreV1Api);
    networking = admin.makeApiClient(NetworkingV1Api);
    executor = K8sExecutor.create({
      kubeconfig: tier.kubeconfig,
      namespace: tenant,
      unrestrictedNamespace: unrestricted,
      poolSize: 1,
    });
    made.push(tenant, unrestricted);
    await executor.ready();
  }, 300_000);

  afterAll(async () => {
    await executor?.close();
    await Promise.allSettled(made.map((name) => core.deleteNamespace({ name })));
  }, 120_000);

  it('created the tenant namespace with the deny-all policy', async () => {
    const policy = await networking.readNamespacedNetworkPolicy({ name: 'cordon-deny-all', namespace: tenant });
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.egress ?? []).toEqual([]);
  });

  it('runs node, python and bash with stdin, env, files and collected files', async () => {
    const node = await executor.execute({
      language: 'node',
      code: 'const fs = require("fs"); let input = ""; process.stdin.on("data", (d) => input += d).on("end", () => { fs.writeFileSync("out.txt", input.toUpperCase()); console.log(process.env.GREETING, fs.readFileSync("in/data.txt", "utf8")); console.error("to stderr"); process.exitCode = 3; });',
      stdin: 'piped',
      env: { GREETING: 'hello' },
      files: { 'in/data.txt': 'from a file' },
      collectFiles: ['*.txt'],
    });
    expect(node).toMatchObject({ status: 'error', exitCode: 3, stdout: 'hello from a file\n', stderr: 'to stderr\n' });
    expect(node.files.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([['out.txt', 'PIPED']]);

    const python = await executor.execute({
      language: 'python',
      code: 'import os, sys\nprint(os.getuid(), sys.stdin.read())',
      stdin: 'in',
    });
    expect(python.status).toBe('ok');
    expect(python.stdout).toMatch(/^\d+ in\n$/);
    expect(Number(python.stdout.split(' ')[0])).toBeGreaterThanOrEqual(200_000);

    const bash = await executor.execute({
      language: 'bash',
      code: 'echo "$HOME $(id -u)"; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs|Seccomp):"; touch /etc/x 2>&1 || true; exit 7',
    });
    expect(bash.exitCode).toBe(7);
    expect(bash.stdout).toMatch(/^\/workspace [1-9]\d{5,}\n/);
    expect(bash.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(bash.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(bash.stdout).toMatch(/Seccomp:\s+2/);
    expect(bash.stdout).toMatch(/Read-only file system/);
  });

  it('keeps the pod off the network and out of the API server', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'ls /var/run/secrets/kubernetes.io 2>&1; env | grep -c KUBERNETES_ || true; cat /etc/resolv.conf; curl -sS -m 3 https://kubernetes.default.svc 2>&1; echo curl=$?',
    });
    expect(result.stdout).toMatch(/No such file or directory/);
    expect(result.stdout).toMatch(/^0$/m);
    expect(result.stdout).toMatch(/nameserver 127\.0\.0\.1/);
    expect(result.stdout).not.toMatch(/curl=0/);
  });

  it('times out, deletes the pod, and returns promptly', async () => {
    const started = performance.now();
    const result = await executor.execute({ language: 'node', code: 'setInterval(() => {}, 1000)', timeoutMs: 3000 });
    expect(result.status).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(3000 + 5000);
  });

  it('aborts a running execution', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const result = await executor.execute({
      language: 'python',
      code: 'import time\nwhile True: time.sleep(1)',
      signal: controller.signal,
    });
    expect(result.status).toBe('aborted');
  });

  it('enforces limits.pids per pod', async () => {
    const result = await executor.execute({
      language: 'python',
      limits: { pids: 32 },
      code: 'import os, time\nn = 0\ntry:\n    for i in range(200):\n        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print("stopped", n, e.errno)',
    });
    expect(result.stdout).toMatch(/^stopped \d+ 11\n$/);
    expect(Number(result.stdout.split(' ')[1])).toBeLessThan(32);
  });

  it('reports an OOM kill as oom', async () => {
    const result = await executor.execute({
      language: 'node',
      code: 'const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));',
      limits: { memoryBytes: 64 * 1024 * 1024 },
      timeoutMs: 60_000,
    });
    expect(result.status).toBe('oom');
  });

  it('reports a missing image quickly with a typed error', async () => {
    const broken = K8sExecutor.create({
      kubeconfig: tier.kubeconfig,
      namespace: tenant,
      unrestrictedNamespace: unrestricted,
      poolSize: 0,
      verifyIsolation: false,
      image: 'cordon-does-not-exist:0',
    });
    const started = performance.now();
    const error: unknown = await broken
      .execute({ language: 'node', code: 'console.log(1)' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(String(error)).toMatch(/ErrImageNeverPull/);
    expect(performance.now() - started).toBeLessThan(30_000);
    await broken.close();
    expect(await broken.leftovers()).toEqual([]);
  });

  it('refuses to run when another policy opens egress in the tenant namespace', async () => {
    await networking.createNamespacedNetworkPolicy({
      namespace: tenant,
      body: {
        metadata: { name: 'allow-dns' },
        spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] },
      },
    });
    try {
      await expect(executor.execute({ language: 'node', code: 'console.log(1)' })).rejects.toThrow(
        IsolationRefusedError,
      );
    } finally {
      await networking.deleteNamespacedNetworkPolicy({ name: 'allow-dns', namespace: tenant });
    }
    expect((await executor.execute({ language: 'node', code: 'console.log(1)' })).stdout).toBe('1\n');
  });

  it('runs network: open in the unrestricted namespace', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'grep -c nameserver /etc/resolv.conf; grep nameserver /etc/resolv.conf',
      network: 'open',
    });
    expect(result.status).toBe('ok');
    expect(result.stdout).not.toMatch(/127\.0\.0\.1/);
  });

  it('works with only the rights in deploy/rbac.yaml', async () => {
    const ns = `cordon-rt-${OWNER_ID}`;
    const ctl = `cordon-rc-${OWNER_ID}`;
    made.push(ns, ctl);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    for (const manifest of rbacManifests({ namespace: ns, unrestrictedNamespace: ctl })) {
      const namespace = manifest.metadata?.namespace ?? '';
      const kind = manifest.kind ?? '';
      if (kind === 'Namespace') await core.createNamespace({ body: manifest as V1Namespace });
      else if (kind === 'NetworkPolicy')
        await networking.createNamespacedNetworkPolicy({ namespace, body: manifest as V1NetworkPolicy });
      else if (kind === 'ServiceAccount') await core.createNamespacedServiceAccount({ namespace, body: manifest });
      else if (kind === 'Role') await rbac.createNamespacedRole({ namespace, body: manifest });
      else if (kind === 'RoleBinding')
        await rbac.createNamespacedRoleBinding({ namespace, body: manifest as V1RoleBinding });
      else throw new Error(`unexpected ${kind}`);
    }
    const token = await core.createNamespacedServiceAccountToken({
      name: 'cordon-executor',
      namespace: ctl,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = admin.getCurrentCluster()!;
    const dir = mkdtempSync(join(tmpdir(), 'cordon-k8s-rbac-'));
    const path = join(dir, 'kubeconfig');
    const restricted = new KubeConfig();
    restricted.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: cluster.server,
          caData: cluster.caData,
          caFile: cluster.caFile,
          skipTLSVerify: cluster.skipTLSVerify,
        },
      ],
      users: [{ name: 'sa', token: token.status!.token }],
      contexts: [{ name: 'sa', cluster: 'c', user: 'sa' }],
      currentContext: 'sa',
    });
    writeFileSync(path, restricted.exportConfig());
    let limited: Executor | undefined;
    try {
      limited = K8sExecutor.create({
        kubeconfig: path,
        namespace: ns,
        unrestrictedNamespace: ctl,
        createNamespaces: false,
        poolSize: 0,
      });
      const result = await limited.execute({ language: 'node', code: 'console.log("least privilege")' });
      expect(result.stdout).toBe('least privilege\n');
      await limited.close();
      // A namespace it was not granted: refused with the verb named, nothing run.
      const outside = K8sExecutor.create({
        kubeconfig: path,
        namespace: tenant,
        unrestrictedNamespace: ctl,
        createNamespaces: false,
        poolSize: 0,
      });
      const error: unknown = await outside
        .execute({ language: 'node', code: 'console.log(1)' })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IsolationRefusedError);
      expect(String(error)).toMatch(/forbids "create networkpolicies in namespace/);
      await outside.close();
    } finally {
      await limited?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves nothing behind after close(), and leaves other executors' pods alone", async () => {
    await executor.settled();
    const before = executor.warmPods;
    expect(before).toBeGreaterThan(0);
    const own = K8sExecutor.create({
      kubeconfig: tier.kubeconfig,
      namespace: tenant,
      unrestrictedNamespace: unrestricted,
      poolSize: 2,
      verifyIsolation: false,
    });
    await own.ready();
    await Promise.all([1, 2, 3].map((n) => own.execute({ language: 'node', code: `console.log(${n})` })));
    await own.settled();
    await own.close();
    expect(await own.leftovers()).toEqual([]);
    // The other executor's warm pods survived and still serve.
    expect((await executor.execute({ language: 'node', code: 'console.log("still here")' })).stdout).toBe(
      'still here\n',
    );
  });

  it('leaves no pod of this owner once every executor is closed', async () => {
    await executor.close();
    const pods = await core.listNamespacedPod({ namespace: tenant, labelSelector: `cordon.dev/owner=${OWNER_ID}` });
    const unrestrictedPods = await core.listNamespacedPod({
      namespace: unrestricted,
      labelSelector: `cordon.dev/owner=${OWNER_ID}`,
    });
    expect([...pods.items, ...unrestrictedPods.items].map((pod) => pod.metadata?.name)).toEqual([]);
  });
});
