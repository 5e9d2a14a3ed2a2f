import { Readable } from 'node:stream';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../platform/clock.js';
import { testApp } from '../../../test/helpers/test-app.js';
import { createCustomerService } from './customer.service.js';

/** The import service with small limits, over the test database (a real one, not a stand-in). */
async function smallService(maxBytes: number) {
  const app = await testApp();
  const t = await app.newTenant();
  const imported = new Counter({ name: 'imported_test', help: 'x', labelNames: ['result'] as const, registers: [new Registry()] });
  const service = createCustomerService({ db: app.database.db, clock: systemClock, importChunkSize: 3, importMaxBytes: maxBytes, imported });
  const actor = { kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'k', role: 'service' as const, productCodes: null };
  return { app, t, service, actor };
}

describe('customer import limits', () => {
  it('stops a body over import_max_bytes with 413, for CSV and NDJSON', async () => {
    const { service, actor } = await smallService(200);
    const csv = 'user_id\n' + Array.from({ length: 100 }, (_, i) => `big${i}`).join('\n');
    await expect(service.importCustomers(actor, 'csv', Readable.from([csv]))).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
    const ndjson = Array.from({ length: 100 }, (_, i) => JSON.stringify({ user_id: `big${i}` })).join('\n');
    await expect(service.importCustomers(actor, 'ndjson', Readable.from([ndjson]))).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
  });

  it('writes in chunks and merges a user repeated within one chunk', async () => {
    const { service, actor, t } = await smallService(1 << 20);
    const rows = [
      { user_id: 'a', attributes: { x: 1 } },
      { user_id: 'a', attributes: { y: 2 }, tags: ['t'] },
      { user_id: 'b' },
      { user_id: 'c', attributes: { x: null } },
      { user_id: 'a', attributes: { x: null } },
    ];
    const report = await service.importCustomers(actor, 'ndjson', Readable.from([rows.map((r) => JSON.stringify(r)).join('\n')]));
    expect(report).toMatchObject({ rows: 5, imported: 5, failed: 0 });
    const a = await t.call('GET', '/v1/customers/a');
    expect(a.body).toMatchObject({ tags: ['t'], attributes: { y: 2 } });
    expect((await t.call('GET', '/v1/customers/c')).body.attributes).toEqual({});
  });
});
