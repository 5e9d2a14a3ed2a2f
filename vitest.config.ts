import { defineConfig } from 'vitest/config';

// The same module tests run against a fresh embedded PGlite and, when TEST_DATABASE_URL is set
// (CI sets it), again against real PostgreSQL in a database created for this run.
const withPostgres = Boolean(process.env.TEST_DATABASE_URL);

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // One PGlite per worker process, migrated once and shared by the files it runs (a cold
    // PGlite start costs ~5 s). Tests isolate themselves by creating their own tenant.
    pool: 'forks',
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      // Each worker of the embedded project has a PGlite of its own, so its files run two at a time
      // (this machine has two cores); it runs first.
      { extends: true, test: { name: 'pglite', maxWorkers: 2, sequence: { groupOrder: 0 }, env: { MH_TEST_DB: 'pglite' } } },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              // One database for the whole run, so its files run one at a time: a file's background
              // sweeps and job runners must never meet another file's rows mid-test.
              test: {
                name: 'postgres',
                maxWorkers: 1,
                sequence: { groupOrder: 1 },
                env: { MH_TEST_DB: 'postgres' },
                globalSetup: ['test/helpers/postgres-global-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
