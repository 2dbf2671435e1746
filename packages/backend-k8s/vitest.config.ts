import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // The cluster files share one single-node cluster on a two-core machine: one file at a time.
    fileParallelism: false,
  },
});
