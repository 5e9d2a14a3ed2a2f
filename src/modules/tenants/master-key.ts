import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/client.js';
import { randomToken } from '../../platform/ids.js';
import { hashSecret } from '../../platform/secrets.js';

const SETTING = 'master_key_sha256';

export interface MasterKeyState {
  /** SHA-256 of the master key, or null if none is configured (tenant keys still work). */
  hash: string | null;
  /** Set once, on the first start of an embedded install: print it, it is not kept. */
  generated?: string;
}

export class MasterKeyRequiredError extends Error {
  constructor() {
    super(
      'MARKETING_MASTER_KEY is required when running on PostgreSQL (DATABASE_URL is set). ' +
        'Set it to a secret of 24 or more characters, e.g. `openssl rand -base64 32`.',
    );
    this.name = 'MasterKeyRequiredError';
  }
}

/**
 * The master key comes from MARKETING_MASTER_KEY. On the embedded database a missing one is
 * generated on first start, shown once, and only its hash kept; on PostgreSQL (shared, usually
 * reachable by more than one person) it must be configured.
 */
export async function resolveMasterKey(handle: DatabaseHandle, configured: string | undefined): Promise<MasterKeyState> {
  if (configured) return { hash: hashSecret(configured) };
  if (handle.kind === 'postgres') throw new MasterKeyRequiredError();

  const stored = await handle.db
    .selectFrom('platform_setting')
    .select('value')
    .where('setting_key', '=', SETTING)
    .executeTakeFirst();
  if (stored) return { hash: String(stored.value) };

  const generated = `mhm_${randomToken(32)}`;
  const hash = hashSecret(generated);
  const inserted = await handle.db
    .insertInto('platform_setting')
    .values({ setting_key: SETTING, value: JSON.stringify(hash), updated_at: new Date() })
    .onConflict((oc) => oc.column('setting_key').doNothing())
    .returning('setting_key')
    .executeTakeFirst();
  if (inserted) return { hash, generated };
  // Another start won the race; use its key.
  const winner = await sql<{ value: string }>`select value from platform_setting where setting_key = ${SETTING}`.execute(handle.db);
  return { hash: String(winner.rows[0]?.value) };
}
