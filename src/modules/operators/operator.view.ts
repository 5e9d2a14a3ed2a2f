import type { OperatorRow } from './operator.repo.js';
import type { OperatorView } from './operator.schemas.js';

/** The answer shape of an operator: never its password hash. */
export function toOperatorView(row: Pick<OperatorRow, 'operator_id' | 'tenant_id' | 'email' | 'name' | 'role' | 'disabled' | 'created_at' | 'updated_at'>): OperatorView {
  return {
    operator_id: row.operator_id,
    tenant_id: row.tenant_id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
