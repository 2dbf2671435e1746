import { describeCollectFilesCases } from '@cordon/core/conformance/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

// Core's one collectFiles behaviour (COLLECT_FILES_CASES), collected by the image's supervisor.
const runtimes = [
  { runtime: 'runc', options: {}, available: await dockerTier('docker') },
  { runtime: 'runsc', options: { runtime: 'runsc' }, available: await dockerTier('gvisor', { runtime: 'runsc' }) },
] as const;

describe.each(runtimes)('docker backend ($runtime)', ({ runtime, options, available }) => {
  describe.runIf(available)('collectFiles', () => {
    let executor: DockerBackendExecutor;

    beforeAll(async () => {
      executor = await DockerBackendExecutor.create({ ...options, poolSize: 1, poolLanguages: 'node' });
    });
    afterAll(async () => {
      await executor?.close();
      expect(await sessionContainers()).toEqual([]);
    });

    describeCollectFilesCases(`docker (${runtime})`, () => executor);
  });
});
