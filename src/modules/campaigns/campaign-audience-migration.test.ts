import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../../../test/helpers/database.js';
import { createScratchDatabase } from '../../../test/helpers/postgres-admin.js';
import { type DatabaseHandle, openPglite, openPostgres } from '../../db/client.js';
import { migrate, readMigrations } from '../../db/migrate.js';

/** A fresh, empty database of the kind under test, and how to get rid of it. */
async function freshDatabase(): Promise<{ handle: DatabaseHandle; done: () => Promise<void> }> {
  if (testDbKind() === 'pglite') {
    const handle = await openPglite(null);
    return { handle, done: () => handle.close() };
  }
  const scratch = await createScratchDatabase(postgresUrl(), 'audience_key');
  const handle = await openPostgres(scratch.url, 2);
  return {
    handle,
    done: async () => {
      await handle.close();
      await scratch.drop();
    },
  };
}

describe('migration 0023 (campaign audience key)', () => {
  it('migrates a database that already holds dangling audience ids, then refuses new ones', async () => {
    const { handle, done } = await freshDatabase();
    try {
      const all = readMigrations();
      // A database of that time: its migrations only (today's function files need later types).
      await migrate(handle, all.filter((m) => m.version < 23), []);
      const now = new Date();
      await sql`insert into tenant (tenant_id, name, created_at, updated_at) values ('t1', 'T', ${now}, ${now})`.execute(handle.db);
      await sql`insert into app (tenant_id, product_code, name, created_at, updated_at) values ('t1', 'app1', 'A', ${now}, ${now})`.execute(handle.db);
      const campaign = (id: string, deletedAt: Date | null) => sql`
        insert into campaign (tenant_id, campaign_id, product_code, campaign_name, campaign_type, audience_id, deleted_at, created_at, updated_at)
        values ('t1', ${id}, 'app1', 'C', 'CUSTOM', 'aud_gone', ${deletedAt}, ${now}, ${now})`;
      await campaign('cmp_live', null).execute(handle.db);
      await campaign('cmp_deleted', now).execute(handle.db);

      await migrate(handle, all);

      const rows = await sql<{ campaign_id: string; audience_id: string | null }>`select campaign_id, audience_id from campaign order by campaign_id`.execute(handle.db);
      // The live row keeps its (dangling) reference for the trigger to skip; the soft-deleted one lets go.
      expect(rows.rows).toEqual([
        { campaign_id: 'cmp_deleted', audience_id: null },
        { campaign_id: 'cmp_live', audience_id: 'aud_gone' },
      ]);
      // Editing another field of the old row still works; naming a missing audience does not.
      await sql`update campaign set campaign_name = 'renamed' where campaign_id = 'cmp_live'`.execute(handle.db);
      await expect(campaign('cmp_new', null).execute(handle.db)).rejects.toMatchObject({ code: '23503', constraint: 'campaign_audience_fk' });
    } finally {
      await done();
    }
  });
});
