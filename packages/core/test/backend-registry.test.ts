import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBackend, packageNameFor, registerBackend } from '../src/backend-registry.js';
import type { CordonBackend } from '../src/backend.js';
import { backendOptionsFromEnv, createExecutor } from '../src/create-executor.js';
import { BackendUnavailableError, InvalidRequestError } from '../src/errors.js';

const fixturePath = fileURLToPath(new URL('./fixtures/third-party-backend.mjs', import.meta.url));

describe('backend selection', () => {
  it('maps built-in names to their packages', () => {
    expect(packageNameFor('docker')).toBe('@cordon/backend-docker');
    expect(packageNameFor('my-backend')).toBe('my-backend');
  });

  it('names the package to install for an unknown backend', async () => {
    const error = await loadBackend('cordon-backend-that-does-not-exist').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).message).toContain('cordon-backend-that-does-not-exist');
    expect((error as BackendUnavailableError).backend).toBe('cordon-backend-that-does-not-exist');
  });

  it('rejects an empty backend name as an invalid request', async () => {
    await expect(loadBackend(' ')).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('loads a third-party backend by path, registers it, and runs through it', async () => {
    await using executor = await createExecutor({ backend: fixturePath });
    expect(executor.name).toBe('host-fixture');
    const result = await executor.execute({
      language: 'node',
      code: 'console.log(6 * 7)',
      network: 'open',
      acceptUnenforced: ['memoryBytes', 'cpus', 'pids', 'diskBytes'],
    });
    expect(result).toMatchObject({ status: 'ok', stdout: '42\n', backend: 'host-fixture' });
    // Registered in the container: the second lookup by name needs no import.
    expect((await loadBackend('host-fixture')).name).toBe('host-fixture');
  });

  it('still loads a backend written before probe() was renamed availability()', async () => {
    const legacy = {
      name: 'legacy-probe-only',
      create: () => Promise.reject(new Error('not used')),
      probe: () => Promise.resolve({ usable: true, detail: 'old shape' }),
      conformance: () => Promise.reject(new Error('not used')),
    } as unknown as CordonBackend;
    registerBackend(legacy);
    const loaded = await loadBackend('legacy-probe-only');
    await expect(loaded.availability()).resolves.toEqual({ usable: true, detail: 'old shape' });
  });

  it('rejects a module that is not a backend', async () => {
    const notBackend = fileURLToPath(new URL('./fixtures/not-a-backend.mjs', import.meta.url));
    await expect(loadBackend(notBackend)).rejects.toThrow(/does not export a cordon backend/);
  });

  it('reads backend options from CORDON_<BACKEND>_<KEY>', () => {
    expect(
      backendOptionsFromEnv('docker', {
        CORDON_DOCKER_POOL_SIZE: '2',
        CORDON_DOCKER_RUNTIME: 'runsc',
        CORDON_SPAWN_TIER: 'x',
      }),
    ).toEqual({ poolSize: '2', runtime: 'runsc' });
  });
});
