import pg from 'pg';

/** What every bench script shares: the admin connection and scratch database URLs. */

/** Runs one statement on the admin database (create / drop the scratch database). */
export async function admin(adminUrl: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** The same server URL, pointing at database `db`. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
