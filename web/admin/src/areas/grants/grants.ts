/** The grant shapes and status colours the grant pages share. */
import type { paths } from '../../api';

export type Grant = paths['/v1/reward-grants/{grant_id}']['get']['responses'][200]['content']['application/json'];
export type GrantStatus = Grant['status'];
export const GRANT_STATUSES: GrantStatus[] = ['PENDING', 'DELIVERED', 'FAILED', 'USED', 'REVOKED'];

const TAGS: Record<string, 'default' | 'info' | 'success' | 'warning' | 'error'> = {
  PENDING: 'info',
  DELIVERED: 'success',
  FAILED: 'error',
  USED: 'default',
  REVOKED: 'warning',
  NOT_REQUIRED: 'default',
};
export const grantTag = (status: string) => TAGS[status] ?? 'default';
