import type { TestProject } from 'vitest/node';
import { openPostgres } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { createScratchDatabase } from './postgres-admin.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

/** A fresh database for this test run, migrated once, dropped at the end. */
export default async function setup(project: TestProject) {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const scratch = await createScratchDatabase(adminUrl, 'test');
  const handle = await openPostgres(scratch.url, 2);
  try {
    await migrate(handle);
  } finally {
    await handle.close();
  }
  project.provide('postgresUrl', scratch.url);
  return async () => {
    await scratch.drop();
  };
}
