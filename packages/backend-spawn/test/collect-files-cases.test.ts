import { describeCollectFilesCases } from '@cordon/core/conformance/vitest';
import { afterAll, beforeAll, expect } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { leftoversOf } from './helpers.js';

// Core's one collectFiles behaviour (COLLECT_FILES_CASES), in both isolation levels: the runner collects in each.
let kernel: SpawnExecutor;
let advisory: SpawnExecutor;

beforeAll(async () => {
  [kernel, advisory] = await Promise.all([SpawnExecutor.create({}), SpawnExecutor.create({ isolation: 'advisory' })]);
});
afterAll(async () => {
  const leftovers = await Promise.all([kernel, advisory].filter(Boolean).map((executor) => leftoversOf(executor)));
  await Promise.all([kernel?.close(), advisory?.close()]);
  expect(leftovers.flat()).toEqual([]);
});

describeCollectFilesCases('spawn, kernel isolation', () => kernel);
// Advisory runs as this host user: as root, file permissions do not hold for its runner.
describeCollectFilesCases('spawn, advisory isolation', () => advisory, {
  request: { acceptUnenforced: ['network'] },
  skipPermissionCases: process.getuid?.() === 0,
});
