import { connect, type AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { campaignBody } from '../../test/helpers/factories.js';
import { taskBody } from '../../test/helpers/task-helpers.js';
import { testDatabase } from '../../test/helpers/database.js';
import { must, type Reply, TEST_MASTER_KEY, type TenantFixture, testApp } from '../../test/helpers/test-app.js';
import { loadConfig } from '../config/load.js';
import { MAX_JSON_DEPTH } from '../platform/input-guard.js';
import { hashSecret } from '../platform/secrets.js';
import { buildApp } from './build-app.js';

/**
 * Over HTTP: NUL, lone surrogates, deep nesting and numbers JSON cannot
 * carry exactly are refused once for every route (400 invalid_request naming the field), nothing
 * of a refused request is stored, and every error, the router's and the HTTP parser's included,
 * has the one documented shape.
 */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  expect(Object.keys(reply.body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(reply.body.error.code).toBe(code);
  expect(reply.body.requestId).toEqual(expect.any(String));
  expect(reply.headers['x-request-id']).toBe(reply.body.requestId);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

/** 400 invalid_request whose details.field is `field`. */
function expectFieldRefused(reply: Reply, field: string, location = 'body') {
  const error = expectRefusal(reply, 400, 'invalid_request');
  expect(error.details).toMatchObject({ field, location });
  return error;
}

/** `{"a":{"a":...1...}}` nested `levels` deep, as JSON text (JSON.stringify would overflow too). */
const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const raw = (t: TenantFixture, method: 'POST' | 'PUT', url: string, payload: string) => t.call(method, url, undefined, { payload });
const total = async (t: TenantFixture, url: string) => must(await t.call('GET', url), 200).body.pagination.total as number;

describe('U+0000 and lone surrogates are refused for every route', () => {
  it('in path parameters and query filters', async () => {
    const t = await (await testApp()).newTenant();
    expectFieldRefused(await t.call('GET', '/v1/campaigns/%00'), 'campaign_id', 'params');
    expectFieldRefused(await t.call('GET', '/v1/reward-grants?user_id=%00'), 'user_id', 'querystring');
    expectFieldRefused(await t.call('GET', '/v1/customers/a%00b'), 'user_id', 'params');
    expectFieldRefused(await t.call('GET', '/v1/tasks?event_type=A&event_type=%00'), 'event_type', 'querystring');
  });

  it('in headers the API reads', async () => {
    const t = await (await testApp()).newTenant();
    expectFieldRefused(await t.call('GET', '/v1/tasks', undefined, { headers: { 'x-product-code': 'a\u0000' } }), 'x-product-code', 'headers');
    expectFieldRefused(await t.call('GET', '/v1/tasks', undefined, { key: 'mh_\u0000aaaaaaaaaaaaaaaaaaaaaaaa' }), 'authorization', 'headers');
  });

  it('in body strings, JSON values and object keys, naming the field; nothing is stored', async () => {
    const t = await (await testApp()).newTenant();
    const post = (overrides: Record<string, unknown>) => t.call('POST', '/v1/campaigns', campaignBody({ product_code: t.productCode, ...overrides }));
    expectFieldRefused(await post({ campaign_name: 'a\u0000b' }), 'campaign_name');
    expectFieldRefused(await post({ metadata: { a: { b: 'x\u0000' } } }), 'metadata.a.b');
    expectFieldRefused(await post({ metadata: { a: { 'k\u0000': 1 } } }), 'metadata.a.k\\u0000');
    expectFieldRefused(await post({ metadata: { list: ['ok', '\ud800'] } }), 'metadata.list.1');
    expectFieldRefused(await post({ form_fields: { a: 'lone low \udc00 surrogate' } }), 'form_fields.a');
    expect(await total(t, '/v1/campaigns')).toBe(0);
    // A well-formed pair is one character, not a lone surrogate; \n and \t are ordinary text.
    must(await post({ campaign_name: 'a\n\tb \ud83d\ude00', metadata: { note: 'line\nline\t\ud83d\ude00' } }), 201);
    expect(await total(t, '/v1/campaigns')).toBe(1);
  });

  it('in customer attributes and tags, event data and rewards', async () => {
    const t = await (await testApp()).newTenant();
    expectFieldRefused(await t.call('PUT', '/v1/customers/u1', { attributes: { city: 'a\u0000' } }), 'attributes.city');
    expectFieldRefused(await t.call('PUT', '/v1/customers/u1', { tags: ['ok', 'v\u0000ip'] }), 'tags.1');
    expectRefusal(await t.call('GET', '/v1/customers/u1'), 404, 'customer_not_found');
    expectFieldRefused(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', product_code: t.productCode, event_data: { ch: '\u0000' } }), 'event_data.ch');
    expectFieldRefused(
      await t.call('POST', '/v1/rewards', { reward_name: 'r\u0000', reward_type: 'POINTS', product_code: t.productCode, config: { generator: { points: 1 } } }),
      'reward_name',
    );
  });
});

describe(`bodies nest at most ${MAX_JSON_DEPTH} levels`, () => {
  it('refuses ~5,000 levels in every free-form field with 400 naming the field', async () => {
    const t = await (await testApp()).newTenant();
    const campaign = JSON.stringify(campaignBody({ product_code: t.productCode }));
    const deep = nested(5000);
    for (const field of ['metadata', 'form_fields']) {
      const reply = await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, `,"${field}":${deep}}`));
      expect(expectFieldRefused(reply, `${field}${'.a'.repeat(MAX_JSON_DEPTH - 1)}`).message).toMatch(/nest/);
    }
    expect(await total(t, '/v1/campaigns')).toBe(0);
    expectRefusal(await raw(t, 'PUT', '/v1/customers/u1', `{"attributes":${deep}}`), 400, 'invalid_request');
    expectRefusal(await t.call('GET', '/v1/customers/u1'), 404, 'customer_not_found');
    expectRefusal(await raw(t, 'POST', '/v1/audiences', `{"audience_name":"S","audience_type":"SEGMENT","product_code":"${t.productCode}","rule":${deep}}`), 400, 'invalid_request');
    expect(await total(t, '/v1/audiences')).toBe(0);
    const event = `{"event_type":"SIGN_IN","user_id":"u1","product_code":"${t.productCode}","event_data":${deep}}`;
    expectRefusal(await raw(t, 'POST', '/v1/tasks/trigger', event), 400, 'invalid_request');
    // An array nested deep at the top is refused the same way, before any route looks at it.
    expectFieldRefused(await raw(t, 'POST', '/v1/campaigns', '['.repeat(5000) + ']'.repeat(5000)), '0'.repeat(MAX_JSON_DEPTH).split('').join('.'));
  });

  it(`accepts exactly ${MAX_JSON_DEPTH} levels counting the body itself, and refuses one more`, async () => {
    const t = await (await testApp()).newTenant();
    const campaign = JSON.stringify(campaignBody({ product_code: t.productCode }));
    // The body is level 1, so `metadata` may hold MAX_JSON_DEPTH - 1 nested objects.
    must(await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, `,"metadata":${nested(MAX_JSON_DEPTH - 1)}}`)), 201);
    expectRefusal(await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, `,"metadata":${nested(MAX_JSON_DEPTH)}}`)), 400, 'invalid_request');
    expect(await total(t, '/v1/campaigns')).toBe(1);
  });
});

describe('one bad import row is that row\'s error; the others are stored', () => {
  const importBody = (t: TenantFixture, payload: string, type: string) => t.call('POST', '/v1/customers/import', undefined, { payload, headers: { 'content-type': type } });

  it('NDJSON: deep, NUL, 1e999, 2^53+1 and lone-surrogate lines', async () => {
    const t = await (await testApp()).newTenant();
    const lines = [
      '{"user_id":"good1","attributes":{"a":1}}',
      `{"user_id":"deep","attributes":${nested(5000)}}`,
      '{"user_id":"nul","attributes":{"a":"x\\u0000"}}',
      '{"user_id":"inf","attributes":{"a":1e999}}',
      '{"user_id":"big","attributes":{"a":9007199254740993}}',
      '{"user_id":"sur\\ud800"}',
      '{"user_id":"good2","tags":["t"]}',
    ];
    const report = must(await importBody(t, lines.join('\n'), 'application/x-ndjson'), 200).body;
    expect(report).toMatchObject({ rows: 7, imported: 2, failed: 5 });
    expect(report.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [2, `attributes${'.a'.repeat(MAX_JSON_DEPTH - 1)}`],
      [3, 'attributes.a'],
      [4, 'attributes.a'],
      [5, 'attributes.a'],
      [6, 'user_id'],
    ]);
    must(await t.call('GET', '/v1/customers/good1'), 200);
    must(await t.call('GET', '/v1/customers/good2'), 200);
    expectRefusal(await t.call('GET', '/v1/customers/inf'), 404, 'customer_not_found');
  });

  it('CSV: a JSON cell nested deep or holding 1e999, and a NUL in a text cell', async () => {
    const t = await (await testApp()).newTenant();
    const csv = ['user_id,prefs:json,city', 'good1,{},X', `deep,"${nested(5000).replace(/"/g, '""')}",X`, 'inf,"{""a"":1e999}",X', 'nul,{},a\u0000b', 'good2,[1],Y'].join('\n');
    const report = must(await importBody(t, csv, 'text/csv'), 200).body;
    expect(report).toMatchObject({ rows: 5, imported: 2, failed: 3 });
    expect(report.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [3, `attributes.prefs${'.a'.repeat(MAX_JSON_DEPTH - 2)}`],
      [4, 'attributes.prefs.a'],
      [5, 'attributes.city'],
    ]);
    expect(must(await t.call('GET', '/v1/customers/good2'), 200).body.attributes).toEqual({ prefs: [1], city: 'Y' });
  });

  it('LIST audience upload: a lone surrogate or NUL in a user id line is that row\'s error', async () => {
    const t = await (await testApp()).newTenant();
    const id = must(await t.call('POST', '/v1/audiences', { audience_name: 'L', audience_type: 'LIST', product_code: t.productCode }), 201).body.audience_id;
    const ndjson = ['"a1"', '"x\\ud800"', '{"user_id":"\\udfff"}', '{"user_id":"n\\u0000"}', `{"user_id":"deep","extra":${nested(5000)}}`, '"a2"'].join('\n');
    const report = must(await t.call('POST', `/v1/audiences/${id}/members/import`, undefined, { payload: ndjson, headers: { 'content-type': 'application/x-ndjson' } }), 200).body;
    expect(report).toMatchObject({ rows: 6, added: 2, failed: 4 });
    expect(report.errors.map((e: { row: number; code: string }) => [e.row, e.code])).toEqual([
      [2, 'invalid_user_id'],
      [3, 'invalid_user_id'],
      [4, 'invalid_user_id'],
      [5, 'invalid_row'],
    ]);
  });
});

describe('numbers JSON cannot carry exactly are refused, and a stored bad task does not break the list', () => {
  it('filters {"ch":1e999} on a task create: 400, and nothing stored', async () => {
    const t = await (await testApp()).newTenant();
    const body = JSON.stringify(taskBody({ product_code: t.productCode, condition: { type: 'count', target: 1, filters: { ch: 1 } } })).replace('"ch":1', '"ch":1e999');
    expect(expectFieldRefused(await raw(t, 'POST', '/v1/tasks', body), 'condition.filters.ch').message).toMatch(/finite/);
    expect(await total(t, '/v1/tasks')).toBe(0);
  });

  it('1e999 and integers beyond 2^53 in campaign metadata, customer attributes and event data', async () => {
    const t = await (await testApp()).newTenant();
    const campaign = JSON.stringify(campaignBody({ product_code: t.productCode }));
    expectFieldRefused(await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, ',"metadata":{"n":-1e999}}')), 'metadata.n');
    const big = expectFieldRefused(await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, ',"metadata":{"n":9007199254740993}}')), 'metadata.n');
    expect(big.message).toMatch(/2\^53/);
    expect(await total(t, '/v1/campaigns')).toBe(0);
    must(await raw(t, 'POST', '/v1/campaigns', campaign.replace(/}$/, ',"metadata":{"n":9007199254740991,"f":1.5e-300}}')), 201);
    expectFieldRefused(await raw(t, 'PUT', '/v1/customers/u1', '{"attributes":{"score":1e999}}'), 'attributes.score');
    expectRefusal(await t.call('GET', '/v1/customers/u1'), 404, 'customer_not_found');
    const event = `{"event_type":"SIGN_IN","user_id":"u1","product_code":"${t.productCode}","event_data":{"amount":1e400}}`;
    expectFieldRefused(await raw(t, 'POST', '/v1/tasks/trigger', event), 'event_data.amount');
  });

  it('a task stored with a null filter value by the old code can still be listed and read', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const task = must(await t.call('POST', '/v1/tasks', taskBody({ product_code: t.productCode, condition: { type: 'count', target: 1, filters: { ch: 1 } } })), 201).body;
    // What the old code stored for {"ch": 1e999}: JSON.stringify(Infinity) is null.
    await sql`update task set condition = jsonb_set(condition, '{filters,ch}', 'null') where tenant_id = ${t.tenantId} and task_id = ${task.task_id}`.execute(app.database.db);
    const list = must(await t.call('GET', '/v1/tasks'), 200).body;
    expect(list.tasks[0].condition.filters).toEqual({ ch: null });
    expect(must(await t.call('GET', `/v1/tasks/${task.task_id}`), 200).body.condition.filters).toEqual({ ch: null });
  });
});

describe('every error has the documented shape', () => {
  it('invalid percent-encoding and a 10 KB path parameter', async () => {
    const t = await (await testApp()).newTenant();
    expect(expectRefusal(await t.call('GET', '/v1/campaigns/%ff'), 400, 'invalid_request').details).toMatchObject({ location: 'url' });
    const long = expectRefusal(await t.call('GET', `/v1/campaigns/${'x'.repeat(10_000)}`), 400, 'invalid_request');
    expect(long.details).toMatchObject({ location: 'params', max_length: 1024 });
  });

  it('unknown routes and methods, HEAD and OPTIONS, bad media types and bodies', async () => {
    const t = await (await testApp()).newTenant();
    expectRefusal(await t.call('OPTIONS', '/v1/campaigns'), 404, 'route_not_found');
    // A path no route has is a 404 whatever it holds, a NUL included.
    expectRefusal(await t.call('GET', '/v1/nothing-here/%00'), 404, 'route_not_found');
    expectRefusal(await t.call('PATCH', '/v1/tasks/trigger', {}), 404, 'route_not_found');
    expect((await t.call('HEAD', '/v1/nothing-here')).status).toBe(404);
    expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload: '<a/>', headers: { 'content-type': 'application/xml' } }), 415, 'unsupported_media_type');
    expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload: 'x'.repeat(2 << 20) }), 413, 'payload_too_large');
    expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload: '{"a":' }), 400, 'invalid_json');
    expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload: '{"__proto__":{"x":1}}' }), 400, 'invalid_json');
  });

  it('requests the HTTP parser refuses (bad header bytes, oversized headers) answer in the shape too', async () => {
    const { app } = await testApp();
    if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const send = (request: string) => exchange(port, [request]).then((replies) => replies[0]!);
    const badHeader = await send('GET /health HTTP/1.1\r\nHost: x\r\nX-Product-Code: a\u0001b\r\n\r\n');
    const overflow = await send(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`);
    for (const [reply, status, code] of [[badHeader, 400, 'invalid_request'], [overflow, 431, 'headers_too_large']] as const) {
      expect(reply.status).toBe(status);
      expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
      expect(reply.body.error.code).toBe(code);
      expect(reply.headers).toContain(`x-request-id: ${reply.body.requestId}`);
    }
    await new Promise((resolve) => app.server.close(resolve));
  });
});

/** Writes `parts` to one connection (a pause between them) and reads every response until it closes. */
function exchange(port: number, parts: string[], between: () => Promise<unknown> = async () => {}) {
  return new Promise<{ status: number; headers: string; body: Record<string, any> }[]>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await between();
        socket.write(part);
      }
    });
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const replies = [];
      // Each response: head, blank line, a body of Content-Length bytes (ASCII in these tests).
      while (text.length > 0) {
        const end = text.indexOf('\r\n\r\n');
        const head = text.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const body = text.slice(end + 4, end + 4 + length);
        text = text.slice(end + 4 + length);
        replies.push({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) });
      }
      resolve(replies);
    });
  });
}

describe('a request arriving while the server closes', () => {
  it('is refused with 503 shutting_down in the one shape', async () => {
    const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent' } });
    const api = await buildApp({ config, database: await testDatabase(), masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false });
    await api.listen({ port: 0, host: '127.0.0.1' });
    const { port } = api.server.address() as AddressInfo;
    let closed: Promise<void> | undefined;
    // The first request is held open (half its body sent) while the close begins; the second is
    // pipelined behind it on the same connection, so it arrives while the server drains.
    const first = 'POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{';
    const rest = '}GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const replies = await exchange(port, [first, rest], async () => {
      await new Promise((r) => setTimeout(r, 100));
      closed = api.close();
      await new Promise((r) => setTimeout(r, 100));
    });
    await closed;
    expect(replies.map((r) => r.status)).toEqual([401, 503]);
    expect(Object.keys(replies[1]!.body).sort()).toEqual(['error', 'requestId']);
    expect(replies[1]!.body.error.code).toBe('shutting_down');
    expect(replies[1]!.headers).toContain(`x-request-id: ${replies[1]!.body.requestId}`);
  });
});
