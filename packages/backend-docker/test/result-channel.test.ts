import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '@cordon/core';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import {
  BASH_PROC_MEM_FORGERY,
  FORGED_PATHS,
  NODE_WRITESYNC_FORGERY,
  PYTHON_FRAME_FORGERY,
  PYTHON_HUGE_TRAILER,
} from './support/forgery.js';
import { peakRssGrowth } from './support/rss.js';

const available = await dockerTier('docker');

/** Issue 10, holes 3 and 4: what comes back through the result channel is not the program's to decide. */
describe.runIf(available)('docker backend: the result channel', () => {
  let executor: DockerBackendExecutor;

  beforeAll(async () => {
    executor = await DockerBackendExecutor.create({ poolSize: 1 });
  });

  afterAll(async () => {
    await executor?.close();
    expect(await sessionContainers()).toEqual([]);
  });

  const expectHonest = (result: ExecutionResult, found: RegExp) => {
    expect(result.stdout).toMatch(found);
    // The supervisor's waitpid, not the program's claim.
    expect(result).toMatchObject({ status: 'error', exitCode: 9, signal: null });
    // Only what the program really wrote: its own script, nothing the forgery claimed.
    expect(result.files.map((file) => file.path)).toEqual([expect.stringMatching(/^main\.(py|js|sh)$/)]);
    for (const path of FORGED_PATHS) expect(result.warnings.join('\n')).not.toContain(path);
  };

  it("python cannot read the nonce from the runner's frames, nor forge exit 0 and files by os._exit(9)", async () => {
    const result = await executor.execute({ language: 'python', code: PYTHON_FRAME_FORGERY, collectFiles: ['**'] });
    expectHonest(result, /frame nonce: not found/);
  });

  it('node cannot rewrite the trailer by patching fs.writeSync', async () => {
    const result = await executor.execute({ language: 'node', code: NODE_WRITESYNC_FORGERY, collectFiles: ['**'] });
    expectHonest(result, /fs\.writeSync patched/);
  });

  it("bash cannot read the nonce from any other process's memory through /proc/<pid>/mem", async () => {
    const result = await executor.execute({ language: 'bash', code: BASH_PROC_MEM_FORGERY, collectFiles: ['**'] });
    expectHonest(result, /nonce not found/);
  });

  it('collects a file written at the very end of the program (no collection before it is done)', async () => {
    const result = await executor.execute({
      language: 'node',
      code: 'process.on("exit", () => require("node:fs").writeFileSync("late.txt", "written at exit"))',
      collectFiles: ['late.txt'],
    });
    expect(result.status).toBe('ok');
    expect(result.files.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
      ['late.txt', 'written at exit'],
    ]);
  });

  it('keeps the host\'s memory bounded while a program writes a 512 MiB "trailer"', async () => {
    const {
      value: result,
      baselineMiB,
      peakMiB,
      growthMiB,
    } = await peakRssGrowth(() =>
      executor.execute({ language: 'python', code: PYTHON_HUGE_TRAILER, timeoutMs: 120_000 }),
    );
    console.log(
      `512 MiB forged trailer: host RSS ${baselineMiB.toFixed(0)} MiB before, peak ${peakMiB.toFixed(0)} MiB (+${growthMiB.toFixed(0)} MiB)`,
    );
    expect(result.stdout).toMatch(/frame nonce: not found/);
    // Without the nonce it is only output, capped at limits.outputBytes (1 MiB) as it arrives.
    expect(result).toMatchObject({ status: 'ok', stderrTruncated: true });
    expect(growthMiB).toBeLessThan(200);
  }, 180_000);
});
