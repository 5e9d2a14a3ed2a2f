import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

const ROWS = 100_000;

function importBody(t: TenantFixture, payload: string, type: string) {
  return t.call('POST', '/v1/customers/import', undefined, { payload, headers: { 'content-type': type } });
}

async function storedCount(tenantId: string) {
  const app = await testApp();
  const r = await sql<{ n: number }>`select count(*)::int as n from customer where tenant_id = ${tenantId}`.execute(app.database.db);
  return r.rows[0]!.n;
}

describe('customer import', () => {
  it('imports 100k CSV rows in one streamed request; bad rows are reported by line and the rest stored', async () => {
    const t = await (await testApp()).newTenant();
    const lines = ['user_id,tags,age:number,vip:boolean,city,consent_sms'];
    const bad = new Map<number, string | null>();
    for (let i = 0; i < ROWS; i++) {
      const line = lines.length + 1;
      if (i % 10_000 === 17) {
        lines.push(`u${i},a|b,not-a-number,true,X,opt_in`);
        bad.set(line, 'attributes.age');
      } else if (i % 10_000 === 18) {
        lines.push(`u${i},a,1,true,X,opt_in,extra`);
        bad.set(line, null);
      } else if (i % 10_000 === 19) {
        lines.push(`u${i},a,1,true,X,maybe`);
        bad.set(line, 'consent.sms');
      } else if (i % 10_000 === 20) {
        lines.push(`,a,1,true,X,opt_in`);
        bad.set(line, 'user_id');
      } else {
        lines.push(`u${i},${i % 2 ? 'vip|new' : 'new'},${i % 90},${i % 3 === 0},"City, ${i % 7}",${i % 2 ? 'opt_in' : 'opt_out'}`);
      }
    }
    const reply = must(await importBody(t, lines.join('\n') + '\n', 'text/csv'), 200).body;
    expect(reply).toMatchObject({ format: 'csv', rows: ROWS, imported: ROWS - bad.size, failed: bad.size, errors_truncated: false });
    expect(reply.errors.map((e: { line: number; field: string | null }) => [e.line, e.field])).toEqual([...bad.entries()]);
    expect(reply.errors[0].message).toMatch(/not a number/);
    expect(await storedCount(t.tenantId)).toBe(ROWS - bad.size);
    const sample = must(await t.call('GET', '/v1/customers/u99999'), 200).body;
    expect(sample).toMatchObject({ tags: ['new', 'vip'], attributes: { age: 99999 % 90, vip: true, city: 'City, 4' } });
    expect(sample.consent.sms.status).toBe('opt_in');
    expect((await t.call('GET', '/v1/customers/u17')).status).toBe(404);
  });

  it('imports 100k NDJSON rows; bad JSON and invalid rows are reported, duplicates merge', async () => {
    const t = await (await testApp()).newTenant();
    must(await t.call('PUT', '/v1/customers/n5', { attributes: { kept: true, age: 1 }, tags: ['old'] }), 201);
    const lines: string[] = [];
    const bad = new Map<number, string | null>();
    for (let i = 0; i < ROWS; i++) {
      const line = lines.length + 1;
      if (i % 25_000 === 3) {
        lines.push('{"user_id": "broken"');
        bad.set(line, null);
      } else if (i % 25_000 === 4) {
        lines.push(JSON.stringify({ user_id: `n${i}`, tags: 'vip' }));
        bad.set(line, 'tags');
      } else if (i % 25_000 === 6) {
        lines.push(JSON.stringify({ user_id: `n${i}`, colour: 'red' }));
        bad.set(line, 'colour');
      } else {
        lines.push(JSON.stringify({ user_id: `n${i}`, attributes: { age: i % 90, plan: i % 2 ? 'pro' : 'free' }, ...(i % 5 === 0 ? { tags: ['five'] } : {}) }));
      }
    }
    // The same user twice: the later row wins, attributes merge.
    lines.push(JSON.stringify({ user_id: 'n5', attributes: { plan: 'gold' } }), '');
    const reply = must(await importBody(t, lines.join('\r\n'), 'application/x-ndjson'), 200).body;
    expect(reply).toMatchObject({ format: 'ndjson', rows: ROWS + 1, imported: ROWS + 1 - bad.size, failed: bad.size });
    expect(reply.errors.map((e: { line: number; field: string | null }) => [e.line, e.field])).toEqual([...bad.entries()]);
    expect(await storedCount(t.tenantId)).toBe(ROWS - bad.size);
    expect(must(await t.call('GET', '/v1/customers/n5'), 200).body).toMatchObject({ tags: ['five'], attributes: { kept: true, age: 5, plan: 'gold' } });
  });

  it('refuses a bad header before writing anything, other media types with 415, and caps reported errors', async () => {
    const t = await (await testApp()).newTenant();
    const noUser = await importBody(t, 'id,tags\n1,a\n', 'text/csv');
    expect([noUser.status, noUser.body.error.code]).toEqual([400, 'invalid_import_header']);
    const badType = await importBody(t, 'user_id,age:int\n1,2\n', 'text/csv');
    expect([badType.status, badType.body.error.code, badType.body.error.details.field]).toEqual([400, 'invalid_import_header', 'header[1]']);
    const json = await t.call('POST', '/v1/customers/import', [{ user_id: 'x' }]);
    expect([json.status, json.body.error.code]).toEqual([415, 'unsupported_media_type']);
    // CSV is accepted only on the import route.
    const elsewhere = await t.call('PUT', '/v1/customers/x', undefined, { payload: 'user_id\nx\n', headers: { 'content-type': 'text/csv' } });
    expect(elsewhere.status).toBe(415);
    const many = must(await importBody(t, 'user_id,n:number\n' + Array.from({ length: 1500 }, (_, i) => `e${i},x`).join('\n'), 'text/csv; charset=utf-8'), 200).body;
    expect(many).toMatchObject({ rows: 1500, imported: 0, failed: 1500, errors_truncated: true });
    expect(many.errors).toHaveLength(1000);
    expect(await storedCount(t.tenantId)).toBe(0);
    const quoted = must(await importBody(t, 'user_id,city\nq1,"ok"\nq2,"broken\n', 'text/csv'), 200).body;
    expect(quoted).toMatchObject({ imported: 1, failed: 1 });
    expect(quoted.errors[0].line).toBeGreaterThanOrEqual(3);
  });

  it('counts imported and failed rows in Prometheus', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await importBody(t, '{"user_id":"m1"}\nnot json\n', 'application/x-ndjson'), 200);
    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/marketing_customer_imported_total\{result="imported"\} [1-9]/);
    expect(metrics).toMatch(/marketing_customer_imported_total\{result="failed"\} [1-9]/);
  });
});
