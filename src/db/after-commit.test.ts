import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { testApp } from '../../test/helpers/test-app.js';
import { afterCommit, inTransaction, runTransaction } from './client.js';

/** afterCommit: effects (metrics) that must describe committed work only. */
describe('afterCommit', () => {
  it('runs after the commit, in order; at once outside a transaction; never after a rollback', async () => {
    const { db } = (await testApp()).database;
    const ran: string[] = [];
    afterCommit(db, () => ran.push('no transaction'));
    expect(ran).toEqual(['no transaction']);

    const value = await runTransaction(db, async (trx) => {
      afterCommit(trx, () => ran.push('first'));
      // A nested inTransaction joins the caller's transaction, and so does its work.
      await inTransaction(trx, async (inner) => {
        await sql`select 1`.execute(inner);
        afterCommit(inner, () => ran.push('nested'));
      });
      expect(ran).toEqual(['no transaction']); // not yet: nothing is committed
      return 42;
    });
    expect(value).toBe(42);
    expect(ran).toEqual(['no transaction', 'first', 'nested']);

    await expect(
      runTransaction(db, async (trx) => {
        afterCommit(trx, () => ran.push('rolled back'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await inTransaction(db, async (trx) => afterCommit(trx, () => ran.push('via inTransaction')));
    expect(ran).toEqual(['no transaction', 'first', 'nested', 'via inTransaction']);
  });
});
