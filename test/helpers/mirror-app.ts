import type { KyselyPlugin } from 'kysely';
import { buildApp } from '../../src/app/build-app.js';
import type { Api } from '../../src/platform/http/types.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/platform/clock.js';
import { hashSecret } from '../../src/platform/secrets.js';
import { uniquePrefix, testRedisUrl } from './redis.js';
import { TEST_MASTER_KEY, testApp, type Reply, type TenantFixture } from './test-app.js';

export interface MirrorApp {
  api: Api;
  prefix: string;
  /** Statements sent to the database while counting is on (every query, via a Kysely plugin). */
  queries: { on: boolean; count: number; sql: string[] };
  call<T = any>(t: TenantFixture, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
}

/**
 * An app over the shared test database with Redis configured (a fresh key prefix), generous
 * attempt limits (the fast-path tests make many failed attempts), API keys cached (so a request
 * needs no key look-up), and every database statement countable. Tenants come from testApp().
 */
export async function mirrorApp(o: { clock?: Clock; reloadMs?: number; redisAddr?: string; overrides?: Record<string, unknown> } = {}): Promise<MirrorApp> {
  const { database } = await testApp();
  const prefix = uniquePrefix('mirror');
  const queries = { on: false, count: 0, sql: [] as string[] };
  const counter: KyselyPlugin = {
    transformQuery(args) {
      if (queries.on) {
        queries.count++;
        queries.sql.push(args.node.kind);
      }
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      'log.level': 'silent',
      'auth.key_cache_seconds': 600,
      'data.redis.addr': o.redisAddr ?? testRedisUrl,
      'data.redis.key_prefix': prefix,
      'redeem_codes.shape_reload_ms': o.reloadMs ?? 1000,
      'rate_limits.lockout.failures': 100000,
      'rate_limits.redeem.per_user.limit': 100000,
      'rate_limits.redeem.per_client_ip.limit': 100000,
      ...o.overrides,
    },
  });
  const api = await buildApp({
    config,
    database: { ...database, db: database.db.withPlugin(counter) },
    masterKeyHash: hashSecret(TEST_MASTER_KEY),
    logger: false,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  await api.ready();
  return {
    api,
    prefix,
    queries,
    async call(t, method, url, body, headers = {}) {
      const res = await api.inject({
        method,
        url,
        headers: { authorization: `Bearer ${t.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
  };
}
