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
      { extends: true, test: { name: 'pglite', env: { MH_TEST_DB: 'pglite' } } },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                env: { MH_TEST_DB: 'postgres' },
                globalSetup: ['test/helpers/postgres-global-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
