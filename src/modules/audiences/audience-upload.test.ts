import { describe, expect, it } from 'vitest';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

async function newList(t: TenantFixture, extra: Record<string, unknown> = {}) {
  const body = { audience_name: 'Uploaded', audience_type: 'LIST', product_code: t.productCode, ...extra };
  return must(await t.call('POST', '/v1/audiences', body), 201).body.audience_id as string;
}

function upload(t: TenantFixture, audienceId: string, payload: string, type: string, key?: string) {
  return t.call('POST', `/v1/audiences/${audienceId}/members/import`, undefined, { payload, headers: { 'content-type': type }, ...(key ? { key } : {}) });
}

async function count(t: TenantFixture, audienceId: string): Promise<number> {
  return must(await t.call('GET', `/v1/audiences/${audienceId}/count`), 200).body.count;
}

async function isMember(t: TenantFixture, audienceId: string, userId: string): Promise<boolean> {
  return must(await t.call('GET', `/v1/audiences/${audienceId}/members`, undefined, { query: { user_id: userId } }), 200).body.member;
}

const rowsOf = (report: { errors: Array<{ row: number; code: string }> }) => report.errors.map((e) => [e.row, e.code]);

describe('LIST audience upload (CSV / NDJSON)', () => {
  it('reads a CSV with a header: the user_id column wherever it is, other columns ignored', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const csv = 'email,User_ID,note\nx@y.z,u1,"a, b"\n,u2,\n, u3 ,later\n';
    const report = must(await upload(t, id, csv, 'text/csv; charset=utf-8'), 200).body;
    expect(report).toEqual({ audience_id: id, format: 'csv', rows: 3, added: 3, already_members: 0, failed: 0, errors: [], errors_truncated: false });
    expect(await count(t, id)).toBe(3);
    // Cells are trimmed, as in the customer import.
    expect(await isMember(t, id, 'u3')).toBe(true);
    expect(await isMember(t, id, 'email')).toBe(false);
  });

  it('reads a single column of ids without a header (the first line is an id too)', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const report = must(await upload(t, id, 's1\r\ns2\r\n\r\ns3', 'text/csv'), 200).body;
    expect(report).toMatchObject({ rows: 3, added: 3, already_members: 0, failed: 0 });
    for (const user of ['s1', 's2', 's3']) expect(await isMember(t, id, user)).toBe(true);
    // A lone `user_id` on the first line is a header, not an id.
    expect(must(await upload(t, id, 'user_id\ns4\n', 'text/csv'), 200).body).toMatchObject({ rows: 1, added: 1 });
    expect(await isMember(t, id, 'user_id')).toBe(false);
    expect(await count(t, id)).toBe(4);
  });

  it('reads NDJSON: objects with user_id or plain JSON strings, under either media type', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const ndjson = ['{"user_id": "n1"}', '"n2"', '', '{"user_id": "n3", "source": "crm"}'].join('\n');
    expect(must(await upload(t, id, ndjson, 'application/x-ndjson'), 200).body).toMatchObject({ format: 'ndjson', rows: 3, added: 3, failed: 0 });
    expect(must(await upload(t, id, '"n4"\n', 'application/ndjson'), 200).body).toMatchObject({ rows: 1, added: 1 });
    expect(await count(t, id)).toBe(4);
    expect(await isMember(t, id, 'n3')).toBe(true);
  });

  it('reports bad rows by line and code, and stores the good ones', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const long = 'x'.repeat(129);
    const csv = ['user_id,name', 'c1,a', ',b', `${long},c`, 'c2', 'c3,d,e', 'c4,"open', 'quote', 'c5,f'].join('\n') + '\n';
    const csvReport = must(await upload(t, id, csv, 'text/csv'), 200).body;
    expect(rowsOf(csvReport).slice(0, 4)).toEqual([[3, 'missing_user_id'], [4, 'invalid_user_id'], [5, 'wrong_field_count'], [6, 'wrong_field_count']]);
    expect(csvReport.errors.at(-1).code).toBe('invalid_csv');
    expect(csvReport.errors[1].message).toMatch(/longer than 128/);
    expect(csvReport).toMatchObject({ rows: 6, added: 1, already_members: 0, failed: 5 });
    expect(await isMember(t, id, 'c1')).toBe(true);

    const ndjson = ['"d1"', '{"user_id": ""}', '{"user_id": 7}', '{"id": "d2"}', '[1]', 'null', '{"user_id": "bad\\u0000id"}', '{broken', JSON.stringify(long), '{"user_id": "d3"}'].join('\n');
    const report = must(await upload(t, id, ndjson, 'application/x-ndjson'), 200).body;
    expect(report).toMatchObject({ rows: 10, added: 2, already_members: 0, failed: 8, errors_truncated: false });
    expect(rowsOf(report)).toEqual([
      [2, 'missing_user_id'],
      [3, 'invalid_user_id'],
      [4, 'missing_user_id'],
      [5, 'invalid_row'],
      [6, 'invalid_row'],
      [7, 'invalid_user_id'],
      [8, 'invalid_json'],
      [9, 'invalid_user_id'],
    ]);
    expect(report.errors[5].message).toMatch(/NUL/);
    expect(await count(t, id)).toBe(3);
  });

  it('caps the error list at 1,000 and says so', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const ndjson = Array.from({ length: 1200 }, (_, i) => (i === 600 ? '"ok"' : '{"user_id": 1}')).join('\n');
    const report = must(await upload(t, id, ndjson, 'application/x-ndjson'), 200).body;
    expect(report).toMatchObject({ rows: 1200, added: 1, failed: 1199, errors_truncated: true });
    expect(report.errors).toHaveLength(1000);
    expect(report.errors[0].row).toBe(1);
  });

  it('counts ids already in the list and repeats within the file as already_members', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    must(await t.call('POST', `/v1/audiences/${id}/members`, { user_ids: ['p1', 'p2'] }), 200);
    const csv = 'user_id\np1\nq1\nq1\np2\nq2\nq1\n';
    expect(must(await upload(t, id, csv, 'text/csv'), 200).body).toMatchObject({ rows: 6, added: 2, already_members: 4, failed: 0 });
    // The same file again adds nothing.
    expect(must(await upload(t, id, csv, 'text/csv'), 200).body).toMatchObject({ rows: 6, added: 0, already_members: 6 });
    expect(await count(t, id)).toBe(4);
  });

  it('answers 0 added to an empty or header-only file', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const empty = { rows: 0, added: 0, already_members: 0, failed: 0, errors: [] };
    expect(must(await upload(t, id, '', 'text/csv'), 200).body).toMatchObject(empty);
    expect(must(await upload(t, id, 'user_id\n', 'text/csv'), 200).body).toMatchObject(empty);
    expect(must(await upload(t, id, 'user_id,email\r\n', 'text/csv'), 200).body).toMatchObject(empty);
    expect(must(await upload(t, id, '\n\n', 'application/x-ndjson'), 200).body).toMatchObject({ ...empty, format: 'ndjson' });
    expect(await count(t, id)).toBe(0);
  });

  it('refuses a header without a user_id column before writing anything', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    for (const csv of ['id,email\n1,a\n', 'user_id,user_id\n1,2\n']) {
      const reply = await upload(t, id, csv, 'text/csv');
      expect([reply.status, reply.body.error.code], csv).toEqual([400, 'invalid_import_header']);
    }
    expect(await count(t, id)).toBe(0);
  });

  it('adds 100,000 ids in one streamed request', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const ROWS = 100_000;
    const csv = 'user_id\n' + Array.from({ length: ROWS }, (_, i) => `member-${i}`).join('\n') + '\n';
    const report = must(await upload(t, id, csv, 'text/csv'), 200).body;
    expect(report).toMatchObject({ rows: ROWS, added: ROWS, already_members: 0, failed: 0 });
    expect(await count(t, id)).toBe(ROWS);
    expect(await isMember(t, id, 'member-99999')).toBe(true);
  });

  it('refuses TAG and SEGMENT audiences with 409 audience_not_list, as the JSON path does', async () => {
    const t = await (await testApp()).newTenant();
    const tag = await newList(t, { audience_type: 'TAG', rule: { tags_any: ['vip'] } });
    const seg = await newList(t, { audience_type: 'SEGMENT', rule: { field: 'tags', op: 'exists' } });
    for (const id of [tag, seg]) {
      const reply = await upload(t, id, 'user_id\nu1\n', 'text/csv');
      expect([reply.status, reply.body.error.code]).toEqual([409, 'audience_not_list']);
      const json = await t.call('POST', `/v1/audiences/${id}/members`, { user_ids: ['u1'] });
      expect([json.status, json.body.error.code]).toEqual([409, 'audience_not_list']);
    }
  });

  it('answers 415 unsupported_media_type to other media types; the JSON path still refuses CSV', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const url = `/v1/audiences/${id}/members/import`;
    const cases: Array<[string, string]> = [
      ['application/json', '{"user_ids": ["u1"]}'],
      ['text/plain', 'u1\n'],
      ['application/octet-stream', 'u1\n'],
      ['multipart/form-data; boundary=x', '--x--'],
    ];
    for (const [type, payload] of cases) {
      const reply = await t.call('POST', url, undefined, { payload, headers: { 'content-type': type } });
      expect([reply.status, reply.body.error.code], type).toEqual([415, 'unsupported_media_type']);
      expect(reply.body.error.details.accepted, type).toContain('text/csv');
    }
    const csvOnJson = await t.call('POST', `/v1/audiences/${id}/members`, undefined, { payload: 'u1\n', headers: { 'content-type': 'text/csv' } });
    expect([csvOnJson.status, csvOnJson.body.error.code]).toEqual([415, 'unsupported_media_type']);
    expect(await count(t, id)).toBe(0);
  });

  it('keeps tenants and products apart; read-only keys cannot upload', async () => {
    const app = await testApp();
    const a = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const b = await app.newTenant();
    const id = await newList(a, { product_code: 'app2' });
    const other = await upload(b, id, 'user_id\nintruder\n', 'text/csv');
    expect([other.status, other.body.error.code]).toEqual([404, 'audience_not_found']);
    const limited = must(await app.call('POST', `/v1/tenants/${a.tenantId}/api-keys`, { name: 'app1 only', role: 'service', product_codes: ['app1'] }), 201).body.key as string;
    expect((await upload(a, id, 'user_id\nintruder\n', 'text/csv', limited)).status).toBe(404);
    expect((await upload(a, id, 'user_id\nintruder\n', 'text/csv', a.readonly)).status).toBe(403);
    expect(await count(a, id)).toBe(0);
    // B's own list with the same user id is its own.
    const mine = await newList(b);
    expect(must(await upload(b, mine, 'intruder\n', 'text/csv'), 200).body.added).toBe(1);
    expect(await isMember(a, id, 'intruder')).toBe(false);
  });

  it('the JSON path refuses a NUL in a user id with 400 instead of failing at the database', async () => {
    const t = await (await testApp()).newTenant();
    const id = await newList(t);
    const reply = await t.call('POST', `/v1/audiences/${id}/members`, { user_ids: ['ok', 'bad\u0000id'] });
    expect([reply.status, reply.body.error.code]).toEqual([400, 'invalid_request']);
    expect(await count(t, id)).toBe(0);
  });
});
