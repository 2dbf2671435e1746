import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Loads the BUILT package through its exports map (self-reference), as a user would.
describe('the published package', () => {
  it('exposes the contract from "@cordon/core"', async () => {
    const core = await import('@cordon/core');
    expect(typeof core.createExecutor).toBe('function');
    expect(typeof core.BaseExecutor).toBe('function');
    expect(new core.InvalidRequestError('x', 1, 'bad')).toBeInstanceOf(core.CordonError);
    expect(core.DEFAULT_LIMITS.memoryBytes).toBe(512 * 1024 * 1024);
  });

  it("exposes the backend author's option helpers from the /backend subpath", async () => {
    const backend = await import('@cordon/core/backend');
    for (const helper of [backend.parseBackendOptions, backend.booleanOption, backend.listOption, backend.mapOption]) {
      expect(typeof helper).toBe('function');
    }
  });

  it('exposes the conformance suite as a subpath', async () => {
    const conformance = await import('@cordon/core/conformance');
    expect(typeof conformance.runConformance).toBe('function');
  });

  it('does not expose internal files', async () => {
    const internal = '@cordon/core/dist/request.js';
    await expect(import(/* @vite-ignore */ internal)).rejects.toThrow(/not exported/);
  });

  it('ships a runnable cordon binary', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      bin: { cordon: string };
      version: string;
    };
    const output = execFileSync(
      process.execPath,
      [new URL(`../${pkg.bin.cordon}`, import.meta.url).pathname, '--version'],
      { encoding: 'utf8' },
    );
    expect(output.trim()).toBe(pkg.version);
  });
});
