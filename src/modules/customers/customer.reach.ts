import { type RawBuilder, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { CustomerRow } from './customer.repo.js';

/**
 * What other modules may ask of profiles in bulk (outreach): the customers' rows by id, the ids
 * with given tags as a subquery to build a set-based statement on, and an opt-out by address.
 * The customer table's SQL stays in this module.
 */

/** Profiles of the tenant by id, in one query (missing ids are simply absent). */
export async function findCustomers(exec: Executor, tenantId: string, userIds: readonly string[]): Promise<CustomerRow[]> {
  if (userIds.length === 0) return [];
  return exec.selectFrom('customer').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', sql<string>`any(${[...userIds]}::text[])`).execute();
}

/** `select user_id from customer where ... tags && $tags`: a subquery of the customers with any of the tags. */
export function taggedCustomersSql(tenantId: string, tags: readonly string[]): RawBuilder<{ user_id: string }> {
  return sql<{ user_id: string }>`select c.user_id from customer c where c.tenant_id = ${tenantId} and c.tags && ${[...tags]}::text[]`;
}

/**
 * Records an opt-out for every profile whose attribute (phone, email) equals the address, on the
 * channel, in one statement (a containment test, so the attributes' GIN index finds them); returns
 * their ids. Consent is merged by channel like any profile write.
 */
export async function optOutByAddress(
  exec: Executor,
  input: { tenantId: string; attribute: string; address: string; channel: string; source: string; now: Date },
): Promise<string[]> {
  const consent = JSON.stringify({ [input.channel]: { status: 'opt_out', updated_at: input.now.toISOString(), source: input.source } });
  const r = await sql<{ user_id: string }>`
    update customer c set consent = c.consent || ${consent}::jsonb, updated_at = ${input.now}
    where c.tenant_id = ${input.tenantId} and c.attributes @> ${JSON.stringify({ [input.attribute]: input.address })}::jsonb
    returning c.user_id`.execute(exec);
  return r.rows.map((row) => row.user_id);
}
