import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One process per file, so each file has its own SESSION_ID and its leak checks see only its own runs.
    pool: 'forks',
  },
});
