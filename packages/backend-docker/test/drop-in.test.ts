import { afterAll, describe, expect, it } from 'vitest';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');

// Loaded through the package's exports map (self-reference by name), as users import it.
const pkg = await import('@cordon/backend-docker');

describe('package entry', () => {
  it('exports DockerExecutor by name and as default, and the backend by name', () => {
    expect(pkg.default).toBe(pkg.DockerExecutor);
    expect(pkg.backend.name).toBe('docker');
    expect(typeof pkg.backend.create).toBe('function');
    expect(typeof pkg.backend.availability).toBe('function');
    expect(typeof pkg.backend.conformance).toBe('function');
    expect(typeof pkg.DockerBackendExecutor.create).toBe('function');
  });
});

describe.runIf(available)('DockerExecutor (drop-in for the original design)', () => {
  const executor = new pkg.DockerExecutor({ timeout: 3000 });

  afterAll(async () => {
    await executor.close();
    expect(await sessionContainers()).toEqual([]);
  });

  it('runs code and resolves to { success, output, error, exitCode, executionTime }', async () => {
    const result = await executor.executeCode('console.log("hi", process.env.TOKEN); console.error("warn")', {
      TOKEN: 't0k',
    });
    expect(result).toEqual({
      success: true,
      output: 'hi t0k\n',
      error: 'warn\n',
      exitCode: 0,
      executionTime: expect.any(Number) as number,
    });
  });

  it('reports failures, timeouts and blocked network calls', async () => {
    expect(await executor.executeCode('process.exit(5)')).toMatchObject({ success: false, exitCode: 5 });
    const timeout = await executor.executeCode('setInterval(() => {}, 1000)');
    expect(timeout).toMatchObject({ success: false, exitCode: 124 });
    expect(timeout.error).toContain('timed out');
    const https = await executor.executeCode(
      'require("https").get("https://api.stripe.com", () => console.log("reached")).on("error", (e) => { console.log("blocked", e.code); })',
    );
    expect(https.output).toMatch(/^blocked (EAI_AGAIN|ENETUNREACH|ENOTFOUND)/);
  });

  it('accepts the original options, including the ones no longer needed', async () => {
    const legacy = new pkg.DockerExecutor({
      networkMode: 'none',
      memoryLimit: 256 * 1024 * 1024,
      cpuLimit: 500_000_000,
      timeout: 5000,
      tempDir: '/tmp/unused',
      readonlyRootfs: true,
      autoRemove: true,
    });
    try {
      const result = await legacy.executeCode(
        'console.log(require("fs").readFileSync("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "utf8").trim())',
      );
      expect(result).toMatchObject({ success: true, output: '50000\n' });
    } finally {
      await legacy.close();
    }
  });

  it('answers isAvailable() and getInfo()', async () => {
    expect(await executor.isAvailable()).toBe(true);
    expect(await executor.getInfo()).toMatchObject({
      backend: 'docker',
      available: true,
      image: pkg.DEFAULT_IMAGE,
      networkMode: 'none',
      timeout: 3000,
    });
    const missing = new pkg.DockerExecutor({ image: 'cordon-runtime:missing' });
    expect(await missing.isAvailable()).toBe(false);
    expect(await missing.executeCode('1')).toMatchObject({ success: false, exitCode: 1 });
  });
});
