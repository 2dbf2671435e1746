import { InvalidRequestError } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { backend, SpawnExecutor } from '../src/index.js';
import defaultExport from '../src/index.js';
import { expectedLauncher } from './expected-launcher.js';

describe('spawn backend module', () => {
  it('exports the backend as `backend` and as default', () => {
    expect(defaultExport).toBe(backend);
    expect(backend.name).toBe('spawn');
  });

  it('probe reports the kernel isolation on this machine', async () => {
    const probe = await backend.availability({});
    expect(probe).toMatchObject({ usable: true, network: 'kernel' });
    expect(probe.detail).toMatch(expectedLauncher() === 'bubblewrap' ? /launcher bubblewrap/ : /launcher perl/);
  });

  it('probe reports the advisory isolation with a remedy when forced', async () => {
    const probe = await backend.availability({ isolation: 'advisory' });
    expect(probe).toMatchObject({ usable: true, network: 'advisory' });
    expect(probe.remedy).toMatch(/bubblewrap/);
  });

  it('rejects bad options naming the option', async () => {
    await expect(SpawnExecutor.create({ isolation: 'sideways' })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(SpawnExecutor.create({ isolation: 'sideways' })).rejects.toThrow(/options\.isolation/);
    await expect(SpawnExecutor.create({ packageDirs: 'relative/dir' })).rejects.toThrow(/options\.packageDirs/);
    await expect(SpawnExecutor.create({ bogus: 1 })).rejects.toThrow(/options\.bogus/);
  });

  it('creates through backend.create with string options (CLI, env)', async () => {
    const executor = await backend.create({ maxConcurrency: '2', allowAdvisoryIsolation: 'false' });
    try {
      const result = await executor.execute({ language: 'bash', code: 'echo hi' });
      expect(result.stdout).toBe('hi\n');
    } finally {
      await executor.close();
    }
  });

  it('conformance adapter aims canaries at host loopback', async () => {
    const executor = await SpawnExecutor.create({});
    try {
      const adapter = await backend.conformance(executor, {});
      expect(adapter.canaryNetwork).toMatchObject({
        bindIPv4: '127.0.0.1',
        reachIPv4: '127.0.0.1',
        bindIPv6: '::1',
        reachIPv6: '::1',
        sharesHostLoopback: true,
      });
      // As root with port 53 free, probes run on a sibling whose resolver is the DNS canary (D2 decisive).
      if (adapter.canaryNetwork.dnsPort === 53) {
        expect(adapter.executor).not.toBe(executor);
        const resolver = await adapter.executor.execute({ language: 'bash', code: 'cat /etc/resolv.conf' });
        expect(resolver.stdout).toContain('nameserver 127.0.0.1');
      } else {
        expect(adapter.executor).toBe(executor);
      }
      expect(await adapter.leftovers()).toEqual([]);
    } finally {
      await executor.close();
    }
  });
});
