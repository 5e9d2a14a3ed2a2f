import pg from 'pg';
import { client } from '../../e2e/server-process.js';
import type { GrantLoadResult } from './grant-load.js';

export const POINTS_PER_GRANT = 5;

/** A tenant with an admin API key, an app and a POINTS reward of `stock`, made through the API. */
export async function prepareGrantTenant(baseUrl: string, masterKey: string, tenantId: string, stock: number) {
  const http = client(baseUrl);
  const must = async (method: string, path: string, key: string, body?: unknown) => {
    const r = await http(method, path, { key, ...(body !== undefined ? { body } : {}) });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  await must('POST', '/v1/tenants', masterKey, { tenant_id: tenantId, name: 'Faults' });
  const apiKey = (await must('POST', `/v1/tenants/${tenantId}/api-keys`, masterKey, { name: 'load', role: 'admin' })).key as string;
  await must('POST', '/v1/apps', apiKey, { product_code: 'app1', name: 'App' });
  const reward = await must('POST', '/v1/rewards', apiKey, {
    reward_name: 'points',
    reward_type: 'POINTS',
    product_code: 'app1',
    total_stock: stock,
    config: { generator: { points: POINTS_PER_GRANT } },
  });
  return { apiKey, rewardId: reward.reward_id as string, must };
}

/** What the database holds for the reward after a load: grants, their users, ledger entries. */
export async function readGrantBook(databaseUrl: string, tenantId: string, rewardId: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const grants = (
      await db.query<{ grant_id: string; user_id: string }>('select grant_id, user_id from reward_grant where tenant_id = $1 and reward_id = $2', [tenantId, rewardId])
    ).rows;
    const ledger = (
      await db.query<{ entries: number; points: number; grants: number }>(
        `select count(*)::int as entries, coalesce(sum(amount), 0)::int as points, count(distinct cause_id)::int as grants
           from ledger_entry where tenant_id = $1 and cause_type = 'reward_grant'`,
        [tenantId],
      )
    ).rows[0]!;
    return { grants, ledger };
  } finally {
    await db.end();
  }
}

/**
 * The promises after a load, as numbers a test asserts on: every order ended with one grant or a
 * stock refusal, the grants the clients were told of are exactly those in the database, one per
 * user, never more than the stock, each with one ledger entry.
 */
export function auditGrants(result: GrantLoadResult, book: Awaited<ReturnType<typeof readGrantBook>>) {
  const told = result.finals.filter((f): f is string => f !== null && f !== 'exhausted');
  const inDb = new Set(book.grants.map((g) => g.grant_id));
  return {
    unfinished: result.finals.filter((f) => f === null).length,
    grantsTold: told.length,
    grantsInDb: book.grants.length,
    toldButMissing: told.filter((id) => !inDb.has(id)).length,
    inDbButNotTold: book.grants.length - told.filter((id) => inDb.has(id)).length,
    usersGrantedTwice: book.grants.length - new Set(book.grants.map((g) => g.user_id)).size,
    ledgerEntries: book.ledger.entries,
    ledgerGrants: book.ledger.grants,
    ledgerPoints: book.ledger.points,
  };
}
