import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app/build-app.js';
import { loadConfig } from '../../src/config/load.js';
import { hashSecret } from '../../src/platform/secrets.js';
import { testDatabase } from '../helpers/database.js';
import { TEST_MASTER_KEY } from '../helpers/test-app.js';

describe('the per-IP limit of the keyless routes', () => {
  it('answers 429 rate_limited with Retry-After past rate_limits.referral_page, before any database work', async () => {
    const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'rate_limits.referral_page.per_client_ip.limit': 3 } });
    const app = await buildApp({ config, database: await testDatabase(), masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false });
    try {
      const from = (ip: string) => app.inject({ method: 'GET', url: '/api/v1/campaigns/cmp_nope/form', remoteAddress: ip });
      for (let i = 0; i < 3; i++) expect((await from('203.0.113.7')).statusCode).toBe(404);
      const refused = await from('203.0.113.7');
      expect(refused.statusCode).toBe(429);
      expect(JSON.parse(refused.body).error.code).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const order = await app.inject({ method: 'POST', url: '/api/v1/orders', remoteAddress: '203.0.113.7', payload: { campaign_id: 'x', phone: '13900000000', form_data: {} } });
      expect(order.statusCode).toBe(429);
      // Another address has its own count.
      expect((await from('203.0.113.8')).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});
