import { AppError } from './errors.js';

export type Role = 'admin' | 'service' | 'readonly';

/** Who is calling: the platform operator (master key) or an API key of one tenant. */
export type Actor = MasterActor | TenantActor;

export interface MasterActor {
  kind: 'master';
}

export interface TenantActor {
  kind: 'tenant';
  tenantId: string;
  keyId: string;
  role: Role;
  /** null = every product line of the tenant; otherwise only these. */
  productCodes: readonly string[] | null;
}

export const MASTER: MasterActor = Object.freeze({ kind: 'master' });

const rank: Record<Role, number> = { readonly: 0, service: 1, admin: 2 };

export function hasRole(actor: TenantActor, needed: Role): boolean {
  return rank[actor.role] >= rank[needed];
}

/** A product-restricted key sees only its product lines; everything else looks absent. */
export function canSeeProduct(actor: TenantActor, productCode: string): boolean {
  return actor.productCodes === null || actor.productCodes.includes(productCode);
}

export function requireTenant(actor: Actor): TenantActor {
  if (actor.kind !== 'tenant') {
    throw new AppError('forbidden', 'tenant_key_required', 'This call needs an API key of a tenant, not the master key');
  }
  return actor;
}
