import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn the built CLI and emulators; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/helpers/plain-summary-reporter.ts'],
  },
});
