import { defineConfig } from 'vitest/config';

// chdb binds one data directory per process, so every test file runs in its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['server/**/*.test.ts', 'ingest/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts', 'client/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
