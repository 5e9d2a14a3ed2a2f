import { describe, expect, it } from 'vitest';
import { sharedErrors } from './shared-errors.js';

// The body a client sees must not depend on which module refused: pin each code's status,
// message and details shape once here.
describe('sharedErrors', () => {
  it('answers each shared code with one status, message and details shape', () => {
    const cases = [
      [sharedErrors.unknownProductCode(['a', 'b']), 400, 'unknown_product_code', { field: 'product_code', product_codes: ['a', 'b'] }],
      [sharedErrors.productNotAllowed('a', ['b']), 403, 'product_not_allowed', { product_code: 'a', allowed: ['b'] }],
      [sharedErrors.productCodeMismatch('a', 'b'), 400, 'product_code_mismatch', { field: 'product_code', body: 'a', header: 'b' }],
      [sharedErrors.rewardExpired(new Date('2026-01-01T00:00:00Z')), 409, 'reward_expired', { valid_until: '2026-01-01T00:00:00.000Z' }],
      [sharedErrors.inventoryExhausted('rwd_1', 0), 409, 'inventory_exhausted', { reward_id: 'rwd_1', available: 0 }],
      [sharedErrors.invalidImportHeader('header[2]', 'bad'), 400, 'invalid_import_header', { field: 'header[2]', line: 1 }],
    ] as const;
    for (const [err, status, code, details] of cases) {
      expect([err.status, err.code, err.details]).toEqual([status, code, details]);
      expect(err.message.length).toBeGreaterThan(0);
    }
  });

  it('names the offending codes and header cell in the message', () => {
    expect(sharedErrors.unknownProductCode(['x', 'y']).message).toContain('x, y');
    expect(sharedErrors.invalidImportHeader('header', 'a user_id column is required').message).toBe('header: a user_id column is required');
  });
});
