/** GET /v1/sync/records: a tenant's sync records by status, kind and target, paged, last changed first. */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('sync records of a tenant', () => {
  it('lists by status (the failed ones to retry), kind and target, paged; another tenant sees none', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const body = { name: 'crm', type: 'postgresql', host: '127.0.0.1', port: 9, user: 'crm', password: 'pw', database: 'crm', mappings: { order: { table: 'orders', key_column: 'order_key', fields: { 'orders.phone': 'phone' } } } };
    const { target_id: targetId } = must(await t.call('POST', '/v1/sync/targets', body, { key: t.admin }), 201).body as { target_id: string };
    const orders = Array.from({ length: 3 }, () => `ord_${randomBytes(5).toString('hex')}`);
    await runTransaction(a.database.db, (trx) =>
      a.app.services.sync.enqueue(
        trx,
        orders.flatMap((id) => [
          { tenant_id: t.tenantId, kind: 'order' as const, record_id: id, order_id: id, record: { id } },
          { tenant_id: t.tenantId, kind: 'reward' as const, record_id: `rw_${id}`, order_id: id, record: { id } },
        ]),
      ),
    );
    // The first order's delivery gave up (as the queue's dead handler leaves it).
    await sql`update sync_record set status = 'failed', attempts = 5, last_error = 'connect ECONNREFUSED', updated_at = now() + interval '1 second'
      where tenant_id = ${t.tenantId} and order_id = ${orders[0]} and kind = 'order'`.execute(a.database.db);

    const list = async (query: string) => must(await t.call('GET', `/v1/sync/records?${query}`), 200).body as { records: { order_id: string; kind: string; status: string; target_id: string | null; attempts: number; last_error: string | null }[]; pagination: { total: number } };
    const all = await list('page_size=4');
    expect(all.pagination).toEqual({ total: 6, page: 1, page_size: 4 });
    expect(all.records[0]).toMatchObject({ order_id: orders[0], kind: 'order', status: 'failed', attempts: 5, last_error: 'connect ECONNREFUSED', target_id: targetId });
    expect((await list('page_size=4&page=2')).records).toHaveLength(2);
    expect((await list('status=failed')).records.map((r) => r.order_id)).toEqual([orders[0]]);
    expect((await list('status=pending')).pagination.total).toBe(2);
    expect((await list('kind=reward')).records.every((r) => r.status === 'skipped' && r.target_id === null)).toBe(true);
    expect((await list(`target_id=${targetId}`)).pagination.total).toBe(3);
    expect((await t.call('GET', '/v1/sync/records?status=dead')).status).toBe(400);

    // The retry puts it back to pending; the failed list is empty then.
    expect(must(await t.call('POST', `/v1/sync/retry/${orders[0]}`), 200).body.retried).toBe(1);
    expect((await list('status=failed')).pagination.total).toBe(0);

    const stranger = await a.newTenant();
    expect(must(await stranger.call('GET', '/v1/sync/records'), 200).body.pagination.total).toBe(0);
  });
});
