/**
 * What the SDK tests share: a real `marketing-hub serve` process (embedded PGlite in the pglite
 * project, a scratch PostgreSQL database in the postgres project), a tenant made with the master
 * key through the typed client, a published campaign with a POINTS reward and a batch of codes,
 * and the client-access setup (a publishable key and an HS256 user-token key) the SDK's end-user
 * calls need.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createMarketingClient, type MarketingClient, unwrap } from '../../packages/sdk/src/index.js';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { type ServerProcess, startServerProcess } from '../e2e/server-process.js';

const MASTER = 'sdk-master-key-0123456789abcdefghij';

export interface SdkServer {
  server: ServerProcess;
  url: string;
  master: string;
  stop(): Promise<void>;
}

/** `label`: letters, digits and _ (it names the scratch database). */
export async function startSdkServer(label: string): Promise<SdkServer> {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  if (testDbKind() === 'postgres') {
    const scratch = await createScratchDatabase(postgresUrl(), label);
    env = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER };
    cleanup = scratch.drop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), `mh-${label}-`));
    env = { MARKETING_DATA_DIR: dir, MARKETING_MASTER_KEY: MASTER };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  const server = await startServerProcess(env);
  return {
    server,
    url: server.url,
    master: MASTER,
    stop: async () => {
      await server.stop('SIGKILL');
      await cleanup();
    },
  };
}

export interface SdkTenant {
  tenantId: string;
  productCode: string;
  admin: MarketingClient;
  adminKey: string;
  service: MarketingClient;
  serviceKey: string;
}

/** A tenant with an app and admin / service keys, made through the typed client. */
export async function sdkTenant(base: SdkServer): Promise<SdkTenant> {
  const master = createMarketingClient({ baseUrl: base.url, apiKey: base.master });
  const tenantId = `t_${randomBytes(6).toString('hex')}`;
  const productCode = `APP_${randomBytes(3).toString('hex').toUpperCase()}`;
  await unwrap(master.POST('/v1/tenants', { body: { tenant_id: tenantId, name: `SDK ${tenantId}` } }));
  const adminKey = (await unwrap(master.POST('/v1/tenants/{tenant_id}/api-keys', { params: { path: { tenant_id: tenantId } }, body: { name: 'admin', role: 'admin' } }))).key!;
  const serviceKey = (await unwrap(master.POST('/v1/tenants/{tenant_id}/api-keys', { params: { path: { tenant_id: tenantId } }, body: { name: 'svc', role: 'service' } }))).key!;
  const admin = createMarketingClient({ baseUrl: base.url, apiKey: adminKey });
  await unwrap(admin.POST('/v1/apps', { body: { product_code: productCode, name: `App ${productCode}` } }));
  return { tenantId, productCode, admin, adminKey, service: createMarketingClient({ baseUrl: base.url, apiKey: serviceKey }), serviceKey };
}

/** A published campaign, a POINTS reward of it (unlimited stock) and a batch of `count` codes. */
export async function codeBatch(t: SdkTenant, options: { count?: number; points?: number } = {}) {
  const campaign = await unwrap(
    t.admin.POST('/v1/campaigns', {
      body: { campaign_name: 'SDK codes', campaign_type: 'PROMOTION', product_code: t.productCode, start_time: '2020-01-01T00:00:00Z', end_time: '2099-12-31T23:59:59Z' },
    }),
  );
  await unwrap(t.admin.POST('/v1/campaigns/{campaign_id}/publish', { params: { path: { campaign_id: campaign.campaign_id } } }));
  const reward = await unwrap(
    t.admin.POST('/v1/rewards', {
      body: {
        reward_name: 'SDK points',
        reward_type: 'POINTS',
        product_code: t.productCode,
        campaign_id: campaign.campaign_id,
        total_stock: null,
        config: { generator: { points: options.points ?? 10 } },
      },
    }),
  );
  const batch = await unwrap(
    t.admin.POST('/v1/campaigns/{campaign_id}/redeem-codes', {
      params: { path: { campaign_id: campaign.campaign_id } },
      body: { code_type: 'ALPHANUM', length: 12, count: options.count ?? 5, reward_id: reward.reward_id },
    }),
  );
  if (!('codes' in batch) || !Array.isArray(batch.codes)) throw new Error(`expected the batch's codes: ${JSON.stringify(batch)}`);
  return { campaignId: campaign.campaign_id, rewardId: reward.reward_id, codes: batch.codes as string[] };
}

/** The end user's side of the app: a publishable key for `origins` and an HS256 user-token key. */
export async function clientAccess(base: SdkServer, t: SdkTenant, origins: string[]) {
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${base.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const pk = await call(`/v1/apps/${t.productCode}/publishable-keys`, { name: 'sdk test', allowed_origins: origins });
  const signing = await call(`/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' });
  // HS256 signs with the UTF-8 bytes of the secret string as shown (not its base64url decoding).
  const secret = new TextEncoder().encode(signing.secret as string);
  return {
    publishableKey: pk.key as string,
    /** A token for `userId`, as the tenant's backend would sign it (`ageSeconds` back-dates it: expired when > 3600). */
    userToken: (userId: string, ageSeconds = 0) => {
      const iat = Math.floor(Date.now() / 1000) - ageSeconds;
      return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: signing.kid as string }).setSubject(userId).setIssuedAt(iat).setExpirationTime(iat + 3600).sign(secret);
    },
  };
}

/** Whether the running service has the client-access routes (publishable keys, user tokens). */
export async function hasClientAccess(base: SdkServer): Promise<boolean> {
  const spec = (await (await fetch(`${base.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  return '/v1/apps/{product_code}/publishable-keys' in spec.paths;
}

export const newUserId = () => `u_${randomBytes(5).toString('hex')}`;
