import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OWNER_ID } from '@cordon/core/backend';
import type { CoreV1Api } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { K8sExecutor } from '../src/index.js';
import { EXECUTOR_LABEL } from '../src/manifests.js';
import { announceSkip, clusterTier, startTenantExecutor, type TenantExecutor } from './cluster-tier.js';
import {
  BASH_PROC_MEM_FORGERY,
  FORGED_PATHS,
  NODE_WRITESYNC_FORGERY,
  PYTHON_FRAME_FORGERY,
  pythonHugeTrailer,
} from './support/forgery.js';

const execFileAsync = promisify(execFile);
const tier = clusterTier();
if (!tier.kubeconfig && !tier.required) announceSkip(tier.why);

const tenant = `cordon-tr-${OWNER_ID}`;
const unrestricted = `cordon-cr-${OWNER_ID}`;

/** Holds every inotify instance its uid may have, says how many, then waits. */
const EXHAUST_INOTIFY = `
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
held = []
while True:
    fd = libc.inotify_init1(0)
    if fd < 0:
        error = ctypes.get_errno()
        break
    held.append(fd)
print(f'holding {len(held)} inotify instances, then {os.strerror(error)}', flush=True)
time.sleep(60)
`;

/** Issue 10 on k8s: holes 3 and 4, the shared kernel, and no pod left by a failed execute(). */
describe.runIf(tier.kubeconfig !== undefined)('k8s backend: the result channel and what pods share', () => {
  let started: TenantExecutor | undefined;
  let executor: K8sExecutor;
  let core: CoreV1Api;

  beforeAll(async () => {
    started = await startTenantExecutor(tier.kubeconfig!, { tenant, unrestricted });
    ({ executor, core } = started);
  }, 300_000);

  afterAll(async () => {
    expect(await started?.stop()).toEqual([]);
  }, 120_000);

  const expectHonest = (result: Awaited<ReturnType<K8sExecutor['execute']>>, found: RegExp) => {
    expect(result.stdout).toMatch(found);
    expect(result).toMatchObject({ status: 'error', exitCode: 9, signal: null });
    expect(result.files.map((file) => file.path)).toEqual([expect.stringMatching(/^main\.(py|js|sh)$/)]);
    for (const path of FORGED_PATHS) expect(result.warnings.join('\n')).not.toContain(path);
  };

  it("reports the supervisor's exit status and files, whatever python, node or bash forge", async () => {
    expectHonest(
      await executor.execute({ language: 'python', code: PYTHON_FRAME_FORGERY, collectFiles: ['**'] }),
      /frame nonce: not found/,
    );
    expectHonest(
      await executor.execute({ language: 'node', code: NODE_WRITESYNC_FORGERY, collectFiles: ['**'] }),
      /fs\.writeSync patched/,
    );
    expectHonest(
      await executor.execute({ language: 'bash', code: BASH_PROC_MEM_FORGERY, collectFiles: ['**'] }),
      /nonce not found/,
    );
  });

  it('collects a file written at the very end of the program', async () => {
    const result = await executor.execute({
      language: 'node',
      code: 'process.on("exit", () => require("node:fs").writeFileSync("late.txt", "written at exit"))',
      collectFiles: ['late.txt'],
    });
    expect(result.files.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
      ['late.txt', 'written at exit'],
    ]);
  });

  it('keeps the host\'s memory bounded while a program writes a 512 MiB "trailer"', async () => {
    const MiB = 1024 * 1024;
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    const result = await executor
      .execute({ language: 'python', code: pythonHugeTrailer(512), timeoutMs: 240_000 })
      .finally(() => clearInterval(sampler));
    console.log(
      `512 MiB forged trailer over attach: host RSS ${(baseline / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB (+${((peak - baseline) / MiB).toFixed(0)} MiB)`,
    );
    expect(result).toMatchObject({ status: 'ok', stderrTruncated: true });
    expect((peak - baseline) / MiB).toBeLessThan(200);
  }, 300_000);

  it('keeps a pod that exhausts its inotify instances from starving the next one', async () => {
    const controller = new AbortController();
    let holding: () => void = () => undefined;
    const exhausted = new Promise<void>((resolve) => (holding = resolve));
    const hog = executor.execute({
      language: 'python',
      code: EXHAUST_INOTIFY,
      signal: controller.signal,
      onStdout: (chunk) => chunk.includes('holding') && holding(),
    });
    try {
      await exhausted;
      const other = await executor.execute({
        language: 'python',
        code: 'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint("inotify: " + ("ok" if libc.inotify_init1(0) >= 0 else os.strerror(ctypes.get_errno())))',
      });
      expect(other.stdout).toBe('inotify: ok\n');
    } finally {
      controller.abort();
    }
    expect((await hog).stdout).toMatch(/^holding \d+ inotify instances, then Too many open files/);
  });

  it("limits the program, not the pod's root: RLIMIT_NPROC on the program's uid, 1024 open files, no pseudo-terminals", async () => {
    const result = await executor.execute({
      language: 'bash',
      limits: { pids: 40 },
      code: 'ulimit -u; ulimit -n; grep "Max processes" /proc/1/limits | tr -s " "; python3 -c "import pty; pty.openpty()" 2>&1 | tail -1',
    });
    const [nproc, nofile, rootLimit, pty] = result.stdout.trim().split('\n');
    expect([nproc, nofile]).toEqual(['40', '1024']);
    expect(rootLimit).not.toMatch(/ 40 40 /);
    expect(pty).toMatch(/out of pty devices|No such file or directory/);
  });

  it('leaves no pod behind when execute() fails, even if the caller dies right after', async () => {
    // An image without the supervisor (images/runtime/test/build-no-supervisor.sh; .ci/run builds
    // it, cluster/up.sh imports it): the pod starts, then its stream ends without a result. The
    // caller is a separate process that exits the moment execute() rejects.
    const { stdout } = await execFileAsync(process.execPath, [
      fileURLToPath(new URL('support/fail-and-exit.mjs', import.meta.url)),
      tier.kubeconfig!,
      tenant,
      unrestricted,
      'cordon-runtime:test-no-supervisor',
    ]);
    const { instanceId, error } = JSON.parse(stdout) as { instanceId: string; error: string | null };
    expect(error).toBe('BackendFailureError');
    const selector = `${EXECUTOR_LABEL}=${instanceId}`;
    const deadline = Date.now() + 30_000;
    let left = (await core.listNamespacedPod({ namespace: tenant, labelSelector: selector })).items;
    while (left.length > 0 && Date.now() < deadline) {
      // Nothing of that caller is alive to finish a deletion: whatever goes, the cluster does on its own.
      await sleep(500);
      left = (await core.listNamespacedPod({ namespace: tenant, labelSelector: selector })).items;
    }
    expect(left.map((pod) => `${pod.metadata?.name} ${pod.status?.phase}`)).toEqual([]);
  });
});
