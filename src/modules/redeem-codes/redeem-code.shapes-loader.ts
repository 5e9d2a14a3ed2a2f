import type { Executor } from '../../db/client.js';
import * as repo from './redeem-code.repo.js';
import type { CodeRule } from './redeem-code.rules.js';

/** The distinct code shapes of a tenant's batches (voided ones too: their codes still answer code_voided). */
export function listShapesForCache(db: Executor) {
  return async (tenantId: string): Promise<CodeRule[]> => repo.listShapes(db, tenantId);
}
