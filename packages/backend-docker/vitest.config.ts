import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests share one Docker daemon and a two-core machine: run files one at a time.
    fileParallelism: false,
  },
});
