/**
 * Schema-driven fuzz suite over every operation of /openapi.json (read from the app, so a new route
 * is covered without touching this file). Each operation gets a valid request built from its
 * schemas and real fixtures of a fuzz tenant, then (1) a sweep: every path, query and header
 * parameter and every body field replaced in turn by the issue's hostile classes, plus whole-body
 * cases, and (2) fast-check runs with a fixed seed: hostile or random schema-valid values in random
 * places, and fully random requests. Every answer: no 5xx; errors in the documented shape; a
 * refused write stores nothing (checksum of the tenant's rows before and after).
 *
 * Longer run: FUZZ_RUNS=5000 npx vitest run test/fuzz (random runs per operation; default 80).
 * Other seed: FUZZ_SEED=n. One case again: FUZZ_SEED=<seed> FUZZ_PATH=<path> with -t "<operation>".
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type TenantFixture, testApp } from '../helpers/test-app.js';
import { type Base, type Case, caseArbitrary, type FuzzRequest, requestFor, sweepCases } from './fuzz-cases.js';
import { type FixtureOptions, FixtureSet } from './fuzz-fixtures.js';
import { type Checksum, changedTables, checksumQuery, describeFailure, errorShapeProblem, type Failure, nextTransactionId, truncate } from './fuzz-oracle.js';
import { MUST_REFUSE } from './hostile-values.js';
import { generateSandboxKeys } from '../../src/modules/payments/index.js';
import { type FieldPath, fieldsOf, type Operation, operationsOf, validValue } from './schema-values.js';

const fuzzMerchant = generateSandboxKeys();
const FUZZ_OPERATOR = { email: `fz-console-${randomBytes(4).toString('hex')}@fuzz.test`, password: 'fuzz-console-password' };
const SEED = Number(process.env.FUZZ_SEED ?? 17_017);
const RUNS = Number(process.env.FUZZ_RUNS ?? 80);
const REPLAY_PATH = process.env.FUZZ_PATH;
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Request bodies the schema alone cannot make valid: free-form parts with a meaning (a reward's
 * generator), and keys that must be new on every create. Called per request.
 */
const SEEDS: Record<string, () => Record<string, unknown>> = {
  'POST /v1/tenants': () => ({ tenant_id: `fz_${randomBytes(5).toString('hex')}` }),
  'POST /v1/apps': () => ({ product_code: `fz${randomBytes(5).toString('hex')}` }),
  'POST /v1/rewards': () => ({ reward_type: 'POINTS', config: { generator: { points: 10 } } }),
  'POST /v1/audiences': () => ({ audience_type: 'LIST' }),
  'POST /v1/campaigns/{campaign_id}/redeem-codes': () => ({ code_type: 'ALPHANUM', length: 12, count: 1 }),
  // The document's path: the fixtures' code for the fixtures' user (userId is not a fixture name).
  'POST /api/redeem': () => ({ userId: `fz_${randomBytes(5).toString('hex')}` }),
  'PUT /v1/customers/{user_id}': () => ({ attributes: { tier: 'silver' } }),
  'PUT /v1/apps/{product_code}': () => ({ name: 'Fuzz app' }),
  // The fuzz tenant becomes a CHANNEL (so the partner flow gets past its tenant check) and its
  // code quota starts without limits (DELETE .../code-quota, fuzzed next, removes whatever the mutations set).
  'PUT /v1/tenants/{tenant_id}': () => ({ tenant_type: 'CHANNEL' }),
  'PUT /v1/tenants/{tenant_id}/code-quota': () => ({ daily_limit: null, total_limit: null }),
  // A new campaign name each time, so two requests with one hostile Idempotency-Key are two bodies
  // (422 idempotency_key_reused), not a replay of the first one's refusal with its requestId.
  'POST /v1/partner/campaigns': () => ({ campaign: { campaign_name: `fz partner ${randomBytes(5).toString('hex')}`, campaign_type: 'PROMOTION', product_code: 'app1' } }),
  // Client access: an origin URL parsing accepts, and a generated HS256 key (EdDSA needs a real public key).
  'POST /v1/apps/{product_code}/publishable-keys': () => ({ allowed_origins: ['https://fuzz.example.test'] }),
  'POST /v1/apps/{product_code}/user-token-keys': () => ({ alg: 'HS256' }),
  // An app no fuzz request configures: sign-in answers 404 and never calls WeChat (the fuzz tenant has
  // two apps, so a body without app_id is 400 wechat_app_required; see app_id in fuzz-fixtures.ts).
  'POST /api/v1/auth/wechat': () => ({ app_id: 'wx00000000000000cc' }),
  'POST /v1/auth/wechat': () => ({ app_id: 'wx00000000000000cc' }),
  // WeChat Pay credentials that parse (generated keys); base_url unset, and nothing is ever paid with them.
  'PUT /v1/payments/wechat-pay': () => ({
    mchid: fuzzMerchant.mchid,
    appid: fuzzMerchant.appid,
    serial_no: fuzzMerchant.merchant.serial_no,
    private_key_pem: fuzzMerchant.merchant.private_key_pem,
    apiv3_key: fuzzMerchant.apiv3_key,
    platform_certificates: [{ serial_no: fuzzMerchant.platform.serial_no, public_key_pem: fuzzMerchant.platform.public_key_pem }],
  }),
  // A sync target on a closed local port (nothing leaves the machine) with one mapped field.
  // Console sign-in with the fuzz tenant's operator (made in beforeAll); a new e-mail for each operator created.
  'POST /v1/console/session': () => ({ email: FUZZ_OPERATOR.email, password: FUZZ_OPERATOR.password, tenant_id: tenant.tenantId }),
  'POST /v1/operators': () => ({ email: `fz-${randomBytes(5).toString('hex')}@fuzz.test` }),
  'PATCH /v1/operators/{operator_id}': () => ({ name: 'Fuzz operator' }),
  'POST /v1/sync/targets': () => ({ host: '127.0.0.1', port: 9, mappings: { order: { table: 'fz_orders', key_column: 'order_key', fields: { 'orders.phone': 'phone' } } } }),
};

/** Fixtures in the state an operation's valid request needs (the default is an ACTIVE campaign, a linked task). */
const FIXTURE_OPTIONS: Record<string, FixtureOptions> = {
  'DELETE /v1/campaigns/{campaign_id}': { campaign: 'DRAFT' },
  'POST /v1/campaigns/{campaign_id}/publish': { campaign: 'DRAFT' },
  'POST /v1/campaigns/{campaign_id}/resume': { campaign: 'PAUSED' },
  'POST /v1/campaigns/{campaign_id}/tasks': { unlinkedTask: true },
};

/** The valid body of a streamed import: one good NDJSON row. */
const UPLOAD_BODY = '{"user_id":"fz_import_1"}\n';

const harness = await testApp();
const spec = (await harness.call('GET', '/openapi.json')).body;
const operations = operationsOf(spec);

let tenant: TenantFixture;
let main: FixtureSet;
let checksumOf: (tenantIds: string[]) => Promise<Checksum>;
let cached: { ids: string; xid: string; sum: Checksum } | null = null;
const db = harness.database.db;
const stats = { operations: 0, requests: 0, serverErrors: 0, shapeErrors: 0, stored: 0, accepted: 0, refusals: 0, successes: 0, started: Date.now() };
const failures: Failure[] = [];
const baseProblems: string[] = [];

beforeAll(async () => {
  tenant = await harness.newTenant();
  main = new FixtureSet(tenant, 'main');
  await tenant.call('POST', '/v1/operators', { ...FUZZ_OPERATOR, role: 'admin' }, { key: tenant.admin });
  checksumOf = await checksumQuery(db);
});

afterAll(() => {
  const seconds = ((Date.now() - stats.started) / 1000).toFixed(0);
  const n = (x: number) => x.toLocaleString('en-US');
  console.log(
    `fuzz: ${n(stats.requests)} requests over ${stats.operations} operations in ${seconds} s (${harness.database.kind}, seed ${SEED}, ${RUNS} random runs per operation): ` +
      `${n(stats.serverErrors)} server errors, ${n(stats.shapeErrors)} errors out of shape, ${n(stats.stored)} refusals that stored something, ${n(stats.accepted)} unstorable values accepted; ` +
      `${n(stats.successes)} answered 2xx, ${n(stats.refusals)} 4xx`,
  );
  if (baseProblems.length) console.log(`fuzz: valid requests that were refused (mutations of them reach less deep):\n  ${baseProblems.join('\n  ')}`);
  if (failures.length) console.log(`fuzz: failure classes across operations:\n${summarize(failures)}`);
});

for (const op of operations) {
  test(op.id, async () => {
    const found = await fuzzOperation(op);
    if (found.length) {
      const distinct = firstOfEachClass(found);
      expect.fail(`${found.length} failing requests in ${distinct.length} classes on ${op.id}:\n\n${distinct.slice(0, 25).map(describeFailure).join('\n\n')}`);
    }
  }, 600_000);
}

async function fuzzOperation(op: Operation): Promise<Failure[]> {
  stats.operations++;
  const found: Failure[] = [];
  const opSeed = (SEED ^ hash(op.id)) >>> 0;
  const ownFixtures = WRITES.has(op.method) && op.pathParams.length > 0;
  // Writes on one resource get their own resources, so a DELETE or an archive does not take the
  // fixtures of the operations after it away.
  const fixtures = ownFixtures ? new FixtureSet(tenant, `op${operations.indexOf(op)}`, FIXTURE_OPTIONS[op.id]) : main;
  await fixtures.prepare(namesUsedBy(op));
  cached = null;

  let key = tenant.admin;
  const base = (): Base => baseRequest(op, fixtures.known, key);
  const send = async (c: Case, repro: string) => {
    const req = requestFor(op, base(), c);
    const failure = await sendAndCheck(op, req, repro);
    if (failure) found.push(failure);
    return req;
  };

  // The valid request first: it tells which key the operation needs and whether it gets through.
  const probe = requestFor(op, base(), { target: 'none' });
  const first = await inject(probe);
  if (first.status === 403 && /master_key_required/.test(first.body)) key = harness.master;
  const again = key === tenant.admin ? first : await inject(requestFor(op, base(), { target: 'none' }));
  if (again.status >= 300) baseProblems.push(`${op.id}: HTTP ${again.status} ${truncate(again.body, 160)}${fixtures.problems.length ? ` (fixtures: ${fixtures.problems.join('; ')})` : ''}`);
  cached = null;

  if (REPLAY_PATH === undefined) {
    for (const [i, c] of sweepCases(op).entries()) await send(c, `sweep case ${i} of -t "${op.id}"`);
  }
  let run = REPLAY_PATH ? Number(REPLAY_PATH.split(':')[0]) : 0;
  await fc.assert(
    fc.asyncProperty(caseArbitrary(op), async (c) => {
      await send(c, `FUZZ_SEED=${SEED} FUZZ_PATH=${run} npx vitest run test/fuzz -t "${op.id}" (fast-check seed ${opSeed}, path ${run})`);
      run++;
      return true;
    }),
    // With a path, fast-check starts at that run: one run is exactly the case to see again.
    { seed: opSeed, numRuns: REPLAY_PATH ? 1 : RUNS, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}), endOnFailure: true },
  );
  if (WRITES.has(op.method)) found.push(...(await listsStillAnswer(op)));
  failures.push(...found);
  return found;
}

/**
 * After an operation's writes, every list of the tenant still answers, page by page: a value
 * that was stored but cannot be read back (1e999 kept as null, say) breaks a list for good,
 * which no single request shows.
 */
async function listsStillAnswer(after: Operation): Promise<Failure[]> {
  const found: Failure[] = [];
  for (const list of operations.filter((o) => o.method === 'GET' && o.pathParams.length === 0 && o.queryParams.some((p) => p.name === 'page'))) {
    const size = list.queryParams.find((p) => p.name === 'page_size')?.schema.maximum ?? 100;
    for (let page = 1; page <= 20; page++) {
      const req: FuzzRequest = {
        method: 'GET',
        url: `${list.path}?page=${page}&page_size=${size}`,
        headers: { authorization: `Bearer ${tenant.admin}` },
        mutation: `nothing: every page of this list after the fuzzing of ${after.id}`,
        value: `list after ${after.id}`,
        target: 'none',
      };
      const res = await inject(req);
      const problem =
        res.status >= 500 ? 'server error' : res.status >= 400 && errorShapeProblem(res.status, res.headers, res.body) ? 'error shape' : null;
      if (problem) {
        if (problem === 'server error') stats.serverErrors++;
        found.push(failure(problem, list, req, res, `a list broken by what ${after.id} stored`, `-t "${after.id}"`));
        break;
      }
      const items = res.status === 200 ? Object.values(JSON.parse(res.body) as Record<string, unknown>).find(Array.isArray) : undefined;
      if (!items || items.length < size) break;
    }
  }
  return found;
}

/**
 * The fixture a path parameter takes: under /v1/outreach/campaigns, `campaign_id` names an
 * outreach campaign (the fixture `id`, as the /api/marketing paths call it), not a /v1 campaign;
 * under /api/v1/campaigns/{id}, a campaign of the document's paths (`hub_campaign_id`).
 */
function fixtureOf(op: Operation, name: string): string {
  // The document's campaign paths name a campaign with referral settings.
  if (name === 'id' && op.path === '/api/v1/campaigns/{id}') return 'hub_campaign_id';
  // A publishable key of the app (key_id elsewhere names an API key).
  if (name === 'key_id' && op.path.startsWith('/v1/apps/')) return 'publishable_key_id';
  return name === 'campaign_id' && op.path.startsWith('/v1/outreach/campaigns/') ? 'id' : name;
}

/** Field names the operation's parameters and body use: the fixtures it needs. */
function namesUsedBy(op: Operation): string[] {
  const names = [...op.pathParams.map((p) => fixtureOf(op, p.name)), ...op.queryParams.map((p) => p.name)];
  if (op.body) for (const f of fieldsOf(op.body)) for (const part of f.path) if (typeof part === 'string') names.push(part);
  if (op.upload) names.push('user_id');
  return names;
}

function baseRequest(op: Operation, known: Record<string, unknown>, key: string): Base {
  const path = Object.fromEntries(op.pathParams.map((p) => [p.name, encodeURIComponent(String(known[fixtureOf(op, p.name)] ?? validValue(p.schema, p.name, known)))]));
  const query = Object.fromEntries(
    op.queryParams.filter((p) => p.required).map((p) => [p.name, encodeURIComponent(String(known[p.name] ?? validValue(p.schema, p.name, known)))]),
  );
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  for (const p of op.headerParams) if (p.required) headers[p.name.toLowerCase()] = String(validValue(p.schema, p.name, known));
  let body: unknown;
  if (op.body) {
    body = validValue(op.body, undefined, known);
    if (body && typeof body === 'object' && !Array.isArray(body)) Object.assign(body, SEEDS[op.id]?.());
    headers['content-type'] = 'application/json';
  }
  if (op.upload) headers['content-type'] = 'application/x-ndjson';
  const schema = op.body;
  const fill = (at: FieldPath): unknown => {
    const field = schema ? fieldsOf(schema).find((f) => f.path.join('.') === at.join('.')) : undefined;
    return field ? validValue(field.schema, String(at[at.length - 1]), known) : undefined;
  };
  return { path, query, headers, body, fill, ...(op.upload ? { raw: UPLOAD_BODY } : {}) };
}

async function inject(req: FuzzRequest): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  stats.requests++;
  const res = await harness.app.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers,
    ...(req.payload !== undefined ? { payload: req.payload } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body };
}

/** Sends one request and checks the three promises; returns what broke, if anything. */
async function sendAndCheck(op: Operation, req: FuzzRequest, repro: string): Promise<Failure | null> {
  const write = WRITES.has(req.method);
  const ids = [tenant.tenantId, ...createdTenantOf(req)];
  const idsKey = ids.join(',');
  let before: Checksum | null = null;
  let xidBefore = '';
  if (write) {
    xidBefore = await nextTransactionId(db);
    if (cached?.ids === idsKey && cached.xid === xidBefore) before = cached.sum;
    else {
      before = await checksumOf(ids);
      cached = { ids: idsKey, xid: xidBefore, sum: before };
    }
  }
  let res: { status: number; headers: Record<string, unknown>; body: string };
  try {
    res = await inject(req);
  } catch (err) {
    return failure('request failed', op, req, { status: 0, body: String(err) }, String(err), repro);
  }
  if (res.status >= 200 && res.status < 300) stats.successes++;
  if (res.status >= 400 && res.status < 500) stats.refusals++;
  let problem: Failure | null = null;
  if (res.status >= 500) {
    stats.serverErrors++;
    problem = failure('server error', op, req, res, '', repro);
  } else if (res.status >= 400) {
    const shape = errorShapeProblem(res.status, res.headers, res.body);
    if (shape) {
      stats.shapeErrors++;
      problem = failure('error shape', op, req, res, shape, repro);
    }
  }
  if (res.status >= 200 && res.status < 300 && ['body', 'path', 'query'].includes(req.target) && MUST_REFUSE.has(req.value)) {
    stats.accepted++;
    problem ??= failure('accepted a value that must be refused', op, req, res, 'expected 4xx', repro);
  }
  if (write) {
    const xidAfter = await nextTransactionId(db);
    // A 5xx is checked too: an answer of 500 after a commit (a bad value stored) is worth saying.
    if (xidAfter !== xidBefore && res.status >= 400) {
      const after = await checksumOf(ids);
      cached = { ids: idsKey, xid: xidAfter, sum: after };
      const changed = changedTables(before!, after);
      if (changed.length && problem) problem.detail = `${problem.detail ? `${problem.detail}; ` : ''}and rows changed in ${changed.join(', ')}`;
      if (changed.length && !problem) {
        stats.stored++;
        problem = failure('stored by a refusal', op, req, res, `rows changed in ${changed.join(', ')}`, repro);
      }
    }
  }
  return problem;
}

/** A tenant a POST /v1/tenants body would create, so the checksum sees it if a refusal stored it. */
function createdTenantOf(req: FuzzRequest): string[] {
  if (req.method !== 'POST' || typeof req.payload !== 'string' || req.payload.length > 10_000) return [];
  try {
    const body = JSON.parse(req.payload);
    return typeof body?.tenant_id === 'string' && body.tenant_id !== tenant.tenantId ? [body.tenant_id] : [];
  } catch {
    return [];
  }
}

function failure(kind: Failure['kind'], op: Operation, req: FuzzRequest, res: { status: number; body: string }, detail: string, repro: string): Failure {
  const payload = req.payload === undefined ? '' : Buffer.isBuffer(req.payload) ? `<bytes ${req.payload.toString('hex').slice(0, 80)}>` : req.payload;
  return {
    kind,
    op: op.id,
    mutation: req.mutation,
    value: req.value,
    method: req.method,
    url: req.url,
    payload: truncate(payload, 400),
    status: res.status,
    response: truncate(res.body, 400),
    detail,
    repro,
  };
}

const errorCode = (f: Failure) => /"code":"([a-z_]+)"/.exec(f.response)?.[1] ?? '';

/** One failure per (kind, mutated place, value class, status): the list a developer reads. */
function firstOfEachClass(list: Failure[]): Failure[] {
  const seen = new Map<string, Failure>();
  for (const f of list) {
    const key = `${f.kind}|${f.mutation.replace(/ <- .*/, '')}|${f.value}|${f.status}`;
    if (!seen.has(key)) seen.set(key, f);
  }
  return [...seen.values()];
}

/** Across operations: kind, value class and answer, with how many operations and requests. */
function summarize(list: Failure[]): string {
  const groups = new Map<string, { ops: Set<string>; count: number; example: Failure }>();
  for (const f of list) {
    const key = `${f.kind} | ${f.value} | HTTP ${f.status} ${errorCode(f)}`;
    const g = groups.get(key) ?? { ops: new Set<string>(), count: 0, example: f };
    g.ops.add(f.op);
    g.count++;
    groups.set(key, g);
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([key, g]) => `  ${key}: ${g.count} requests, ${g.ops.size} operations (e.g. ${g.example.method} ${truncate(g.example.url, 80)} ${g.example.mutation.slice(0, 80)})`)
    .join('\n');
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
