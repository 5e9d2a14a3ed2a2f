import { sql, type Transaction } from 'kysely';
import { type Executor, runTransaction } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import type { CouponIssuer, GrantOptions } from './grant.context.js';
import * as repo from './grant.repo.js';
import { type GrantStatement, type GrantStatementResult, runGrantStatement, runGrantStatementBy } from './grant.statement.js';

/**
 * Grants of a COUPON reward that names a coupon template (config.generator.coupon_template_id):
 * besides the grant statement, each unit puts one coupon of the template in the user's wallet.
 * The coupons module issues them (injected as `CouponIssuer`, wired in app/services.ts, so this
 * module does not import it) in the grant's own transaction, after the statement made the grant:
 *
 * - a replayed cause (the statement answers `replayed`) issues nothing;
 * - the coupons module records each coupon against (grant_id, unit) under a primary key, so no
 *   code path can issue a second coupon for one unit of one grant;
 * - a refusal of the coupon (the template's usage_limit or per_user_limit reached, the template
 *   disabled or ended) undoes the grant with it, like a stock refusal: nothing stays written and
 *   the grant answers 409 with the coupon's code.
 *
 * So these grants never share a group commit: alone, they run in a transaction of their own; in a
 * caller's transaction, inside a savepoint, so a refusal undoes this grant only and the caller
 * (a batch of task completions) goes on with its others.
 */

let savepoints = 0;

/** `fn` in a savepoint of the caller's transaction: an error undoes what fn wrote, and only that. */
async function inSavepoint<T>(trx: Transaction<DB>, fn: () => Promise<T>): Promise<T> {
  const name = sql.raw(`mh_grant_coupon_${++savepoints % 1_000_000}`);
  await sql`savepoint ${name}`.execute(trx);
  let value: T;
  try {
    value = await fn();
  } catch (err) {
    await sql`rollback to savepoint ${name}`.execute(trx);
    throw err;
  }
  await sql`release savepoint ${name}`.execute(trx);
  return value;
}

/**
 * The grant statement and the coupons of a granted grant, in one transaction (see the header).
 * Answers like runGrantStatement, the grant's payload completed with the issued coupons.
 */
export async function runGrantWithCoupons(
  exec: Executor,
  statement: GrantStatement,
  templateId: string,
  issuer: CouponIssuer,
  options: GrantOptions,
): Promise<GrantStatementResult> {
  const work = async (trx: Transaction<DB>): Promise<GrantStatementResult> => {
    const result = options.statement ? await runGrantStatementBy(options.statement, trx, statement) : await runGrantStatement(trx, statement);
    if (result.outcome !== 'granted') return result;
    const coupons = await issuer.issue(trx, { tenantId: statement.tenantId, grantId: statement.grantId, templateId, userId: statement.userId, quantity: statement.quantity });
    const payload = { ...(result.grant.payload as Record<string, unknown>), coupon_template_id: templateId, coupons };
    const grant = await repo.setPayload(trx, statement.tenantId, statement.grantId, payload);
    return { ...result, grant };
  };
  return exec.isTransaction ? inSavepoint(exec as Transaction<DB>, () => work(exec as Transaction<DB>)) : runTransaction(exec, work);
}
