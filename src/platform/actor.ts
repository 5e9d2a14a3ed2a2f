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
  /**
   * Set for a client request (a browser or app with a publishable key, docs/clients.md): the
   * actor is then the key's tenant with role `service`, limited to the key's app, acting for one
   * end user only. Services need not look at it: the HTTP layer has already bound the user.
   */
  client?: ClientContext;
}

/** The client side of a client request's actor. */
export interface ClientContext {
  publishableKeyId: string;
  productCode: string;
  /** The end-user token's `sub`; null on an anonymous-safe route called without a token. */
  endUserId: string | null;
  /** X-Device-Id, when sent. */
  deviceId: string | null;
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
