import Fastify from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../test/helpers/database.js';
import type { DatabaseHandle } from '../../db/client.js';
import { systemClock } from '../clock.js';
import { createIdempotencyStore } from '../idempotency.js';
import { createUnitOfWork } from './unit-of-work.js';

/**
 * A write whose answer cannot be serialized (here: a required field missing from the result) must
 * not commit: the client gets a 500 for it, so the change it would never hear of must not stay.
 */
describe('unit of work', () => {
  let database: DatabaseHandle;

  beforeAll(async () => {
    database = await testDatabase();
    await sql`create table if not exists uow_probe (id text primary key)`.execute(database.db);
  });

  async function probeApp() {
    const idempotency = createIdempotencyStore({ db: database.db, clock: systemClock, ttlHours: 1, lockSeconds: 60 });
    const uow = createUnitOfWork({ db: database.db, idempotency });
    const app = Fastify({ logger: false });
    app.post<{ Querystring: { id: string; answer: string } }>(
      '/probe',
      { schema: { response: { 201: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } } } },
      async (request, reply) =>
        uow(request, reply, 201, async (trx) => {
          await sql`insert into uow_probe (id) values (${request.query.id})`.execute(trx);
          return request.query.answer === 'broken' ? {} : { id: request.query.id };
        }),
    );
    await app.ready();
    return app;
  }

  const stored = async (id: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from uow_probe where id = ${id}`.execute(database.db)).rows[0]!.n;

  it('rolls the change back when its answer cannot be serialized', async () => {
    const app = await probeApp();
    const id = `broken-${Date.now()}`;
    const res = await app.inject({ method: 'POST', url: `/probe?id=${id}&answer=broken` });
    expect(res.statusCode).toBe(500);
    expect(await stored(id)).toBe(0);
    await app.close();
  });

  it('commits a change whose answer serializes', async () => {
    const app = await probeApp();
    const id = `fine-${Date.now()}`;
    const res = await app.inject({ method: 'POST', url: `/probe?id=${id}&answer=fine` });
    expect([res.statusCode, res.json()]).toEqual([201, { id }]);
    expect(await stored(id)).toBe(1);
    await app.close();
  });
});
