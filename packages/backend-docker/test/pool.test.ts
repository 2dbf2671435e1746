import { afterAll, describe, expect, it } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');

async function waitForPool(executor: DockerBackendExecutor, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (executor.idleSandboxIds.size < count) {
    if (Date.now() > deadline) throw new Error(`pool did not reach ${count} ready containers in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(available)('docker backend: warm pool', () => {
  afterAll(async () => {
    expect(await sessionContainers()).toEqual([]);
  });

  it('hands out pre-booted containers once each and refills', async () => {
    await using executor = await DockerBackendExecutor.create({ poolSize: 2, poolLanguages: 'node' });
    await waitForPool(executor, 2);
    const before = executor.idleSandboxIds;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const result = await executor.execute({ language: 'node', code: 'console.log(require("os").hostname())' });
      expect(result.status).toBe('ok');
      ids.push(result.id);
    }
    // Both pooled containers were used and are no longer in the pool; new ones replace them.
    const after = executor.idleSandboxIds;
    for (const id of before) expect(after.has(id)).toBe(false);
    await waitForPool(executor, 2);
    expect(new Set(ids).size).toBe(2);
  });

  it('never passes state from one execution to the next', async () => {
    await using executor = await DockerBackendExecutor.create({ poolSize: 1, poolLanguages: 'node,python' });
    for (const language of ['node', 'python'] as const) {
      await waitForPool(executor, 2);
      const first = await executor.execute({
        language,
        code:
          language === 'node'
            ? 'require("fs").writeFileSync("/workspace/left", "x"); require("fs").writeFileSync("/tmp/left", "x"); globalThis.leftover = 1; require("child_process").spawn("sleep", ["600"], { detached: true, stdio: "ignore" }).unref()'
            : 'import subprocess\nopen("/workspace/left", "w").write("x")\nopen("/tmp/left", "w").write("x")\nsubprocess.Popen(["sleep", "600"], start_new_session=True)',
      });
      expect(first.status).toBe('ok');
      await waitForPool(executor, 2);
      const second = await executor.execute({
        language: 'bash',
        // /proc directly, not ps: a missing tool must not make this pass.
        code: 'ls -A /workspace /tmp; for p in /proc/[0-9]*; do cat "$p/comm"; done 2>/dev/null | sort | tr "\\n" " "',
      });
      expect(second.status).toBe('ok');
      expect(second.stdout).not.toContain('left');
      expect(second.stdout).not.toContain('sleep');
      expect(second.stdout).toContain('main.sh');
      expect(second.stdout).toContain('bash');
      const node = await executor.execute({ language: 'node', code: 'console.log(typeof globalThis.leftover)' });
      expect(node.stdout).toBe('undefined\n');
    }
  });

  it('gives requests with other limits or an open network a cold container', async () => {
    await using executor = await DockerBackendExecutor.create({ poolSize: 1, poolLanguages: 'node' });
    await waitForPool(executor, 1);
    const idle = executor.idleSandboxIds;
    const result = await executor.execute({
      language: 'bash',
      code: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
      limits: { memoryBytes: 100 * 1024 * 1024 },
    });
    expect(result.stdout.trim()).toBe(String(100 * 1024 * 1024));
    expect(executor.idleSandboxIds).toEqual(idle);
    const open = await executor.execute({
      language: 'bash',
      code: 'ls /sys/class/net | sort | tr "\\n" " "',
      network: 'open',
    });
    expect(open.stdout).toContain('eth0');
    expect(executor.idleSandboxIds).toEqual(idle);
  });

  it('runs 200 executions at concurrency 8 through the pool with zero failures and no leftovers', async () => {
    const executor = await DockerBackendExecutor.create({ poolSize: 8, poolLanguages: 'node', maxConcurrency: 8 });
    await waitForPool(executor, 8, 60_000);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => executor.execute({ language: 'node', code: `console.log(${i})` })),
    );
    const seconds = (performance.now() - started) / 1000;
    const failures = results.filter((result, i) => result.status !== 'ok' || result.stdout !== `${i}\n`);
    console.log(
      `200 executions at concurrency 8: ${seconds.toFixed(1)} s, ${(200 / seconds).toFixed(1)}/s, ${failures.length} failures`,
    );
    expect(failures).toEqual([]);
    await executor.close();
    expect(await sessionContainers()).toEqual([]);
  }, 300_000);
});
