import type { Executor } from '../../db/client.js';
import { createReadBatcher } from '../../platform/read-batcher.js';
import * as repo from './redeem-code.repo.js';

export interface CodeReader {
  /** The codes stored under any of `forms` in the tenant, with their batches (any product). */
  find(tenantId: string, forms: readonly string[]): Promise<repo.CodeWithBatch[]>;
}

const keyOf = (tenantId: string, code: string) => `${tenantId}\u0000${code}`;

/**
 * The redemption's read of its code, grouped: concurrent redemptions look their codes up in one
 * query (src/platform/read-batcher.ts). Reads inside a caller's transaction never come here.
 */
export function createCodeReader(db: Executor, options: { maxSize: number; concurrency: number }): CodeReader {
  const reads = createReadBatcher<{ tenantId: string; code: string }, repo.CodeWithBatch>({
    load: (keys) => repo.findCodesByKeys(db, keys),
    keyOf: (k) => keyOf(k.tenantId, k.code),
    rowKey: (row) => keyOf(row.tenant_id, row.code),
    maxSize: options.maxSize,
    concurrency: options.concurrency,
  });
  return {
    async find(tenantId, forms) {
      const found = await Promise.all([...new Set(forms)].map((code) => reads.get({ tenantId, code })));
      return found.flat();
    },
  };
}
