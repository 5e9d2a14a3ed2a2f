import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { grpcClient } from '../helpers/grpc-client.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, type ServerProcess, startServerProcess } from './server-process.js';

/**
 * gRPC through the real start path: `marketing-hub serve --port 0` also serves gRPC (on any free
 * port, as its HTTP port is 0), prints where, takes a tenant key, grants, and stops on SIGTERM.
 */
const onPostgres = testDbKind() === 'postgres';
const MASTER = 'e2e-grpc-master-key-0123456789abcdef';

describe(`gRPC in the served process on ${onPostgres ? 'PostgreSQL' : 'embedded PGlite'}`, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let server: ServerProcess;

  beforeAll(async () => {
    if (onPostgres) {
      const scratch = await createScratchDatabase(postgresUrl(), 'e2egrpc');
      env = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER };
      cleanup = scratch.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'mh-grpc-'));
      env = { MARKETING_DATA_DIR: dir, MARKETING_MASTER_KEY: MASTER };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    server = await startServerProcess(env);
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await cleanup?.();
  });

  it('grants over gRPC with a tenant key, refuses without one, and stops cleanly', async () => {
    const target = /gRPC\s+(\S+)/.exec(server.output())?.[1];
    expect(target, server.output()).toMatch(/^127\.0\.0\.1:\d+$/);
    const http = client(server.url);
    expect((await http('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: 'grpc-t1', name: 'gRPC' } })).status).toBe(201);
    const key = (await http('POST', '/v1/tenants/grpc-t1/api-keys', { key: MASTER, body: { name: 'svc', role: 'admin' } })).body.key as string;
    expect((await http('POST', '/v1/apps', { key, body: { product_code: 'app1', name: 'App 1' } })).status).toBe(201);

    const grpc = grpcClient(target!);
    try {
      const campaign = await grpc.call('CampaignService', 'CreateCampaign', { campaign_name: 'c', campaign_type: 'PROMOTION', product_code: 'app1', start_time: '2020-01-01T00:00:00Z' }, { key });
      expect(campaign.code, campaign.message).toBe(status.OK);
      expect((await grpc.call('CampaignService', 'UpdateCampaignStatus', { campaign_id: campaign.body.campaign_id, action: 'publish' }, { key })).body.status).toBe('ACTIVE');
      const reward = await grpc.call('RewardService', 'CreateReward', {
        reward_name: 'r',
        reward_type: 'POINTS',
        product_code: 'app1',
        campaign_id: campaign.body.campaign_id,
        total_stock: 2,
        config: { generator: { points: 3 } },
      }, { key });
      const grants = await Promise.all(['a', 'b', 'c'].map((u) => grpc.call('GrantService', 'Grant', { reward_id: reward.body.reward_id, user_id: u }, { key })));
      expect(grants.map((g) => g.errorCode ?? 'OK').sort()).toEqual(['OK', 'OK', 'inventory_exhausted']);
      const anonymous = await grpc.call('GrantService', 'ListGrants', {}, {});
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const metrics = (await http('GET', '/metrics')).body as string;
      expect(metrics).toContain('grpc_server_handled_total{grpc_service="marketing_hub.v1.GrantService",grpc_method="Grant",grpc_code="OK"} 2');
    } finally {
      grpc.close();
    }
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});
