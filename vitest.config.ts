import { defineConfig } from 'vitest/config';

// The same module tests run against a fresh embedded PGlite and, when TEST_DATABASE_URL is set
// (CI sets it), again against real PostgreSQL in a database created for this run.
const withPostgres = Boolean(process.env.TEST_DATABASE_URL);
const MODULE_TESTS = ['src/**/*.test.ts', 'test/**/*.test.ts'];
// test/system: faults and several hosts; each file brings its own servers (a private PostgreSQL,
// Redis, network namespaces), so they run once, in the `system` project.
const SYSTEM_TESTS = ['**/node_modules/**', 'test/system/**'];
// MH_TEST_COMPILED=1 (CI, after `npm run build`): the processes the postgres project spawns
// and the system project (bin/marketing-hub.js) run the compiled dist/, the pglite project's run
// the TypeScript source.
const runAs = (run: 'dist' | 'source') => (process.env.MH_TEST_COMPILED === '1' ? { MARKETING_HUB_RUN: run } : {});

export default defineConfig({
  test: {
    // One PGlite per worker process, migrated once and shared by the files it runs (a cold
    // PGlite start costs ~5 s). Tests isolate themselves by creating their own tenant.
    pool: 'forks',
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      // Each worker of the embedded project has a PGlite of its own, so its files run two at a time
      // (this machine has two cores); it runs first.
      { extends: true, test: { name: 'pglite', include: MODULE_TESTS, exclude: SYSTEM_TESTS, maxWorkers: 2, sequence: { groupOrder: 0 }, env: { MH_TEST_DB: 'pglite', ...runAs('source') } } },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              // One database for the whole run, so its files run one at a time: a file's background
              // sweeps and job runners must never meet another file's rows mid-test.
              test: {
                name: 'postgres',
                include: MODULE_TESTS,
                exclude: SYSTEM_TESTS,
                maxWorkers: 1,
                sequence: { groupOrder: 1 },
                env: { MH_TEST_DB: 'postgres', ...runAs('dist') },
                globalSetup: ['test/helpers/postgres-global-setup.ts'],
              },
            },
          ]
        : []),
      // Fault and multi-host tests, one file at a time after the others (they load the machine and
      // start and kill servers). A test whose tools are missing (root, PostgreSQL's binaries,
      // redis-server, ip netns) skips and says why.
      {
        extends: true as const,
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
          env: { MH_TEST_DB: 'system', ...runAs('dist') },
        },
      },
    ],
  },
});
