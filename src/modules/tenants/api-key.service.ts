import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, MASTER, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { newId, randomToken } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { hashSecret, sameHash } from '../../platform/secrets.js';
import type { AppService } from '../apps/index.js';
import { tenantErrors } from './tenant.errors.js';
import * as repo from './tenant.repo.js';
import type { ApiKeyView, CreateApiKeyInput, CreatedApiKeyView } from './tenant.schemas.js';
import { assertTenantAccess } from './tenant.service.js';

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

const KEY_PREFIX = 'mhk_';
// Crockford base32 without the look-alikes, as in ids.ts.
const PREFIX_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CACHE_LIMIT = 10_000;

/** `mhk_` + 8 visible characters + `_` + 256 random bits: the prefix finds the row, the rest proves it. */
function mintKey(): { key: string; prefix: string } {
  let visible = '';
  // 256 is a multiple of 32, so `byte % 32` is uniform.
  for (const byte of randomBytes(8)) visible += PREFIX_ALPHABET[byte % 32];
  const prefix = `${KEY_PREFIX}${visible}`;
  return { key: `${prefix}_${randomToken(32)}`, prefix };
}

export function toApiKeyView(row: repo.ApiKeyRow): ApiKeyView {
  return {
    key_id: row.key_id,
    tenant_id: row.tenant_id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    product_codes: row.product_codes,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

export function createApiKeyService(deps: {
  db: Database;
  clock: Clock;
  apps: AppService;
  masterKeyHash: () => string | null;
  cacheSeconds: number;
  onTouchError?: (err: unknown) => void;
}) {
  const { db, clock, apps } = deps;
  // Verified keys, by secret digest: at most CACHE_LIMIT (least recently used out first), each
  // for cacheSeconds of the injected clock (ttlResolution 0: no 1 ms memo of that clock).
  const cache = new LRUCache<string, TenantActor>({
    max: CACHE_LIMIT,
    ttl: Math.max(0, deps.cacheSeconds) * 1000,
    ttlResolution: 0,
    perf: { now: () => clock.now().getTime() },
  });

  /** A cached tenant key (looked at first: the common call), or the master key. */
  function knownByDigest(digest: string): Actor | undefined {
    const cached = cache.get(digest);
    if (cached) return cached;
    const master = deps.masterKeyHash();
    return master && sameHash(digest, master) ? MASTER : undefined;
  }

  function forget(keyId: string): void {
    // Collected first: the entries are deleted after the walk, not during it.
    const digests = [...cache.entries()].filter(([, actor]) => actor.keyId === keyId).map(([digest]) => digest);
    for (const digest of digests) cache.delete(digest);
  }

  return {
    /** Creates a key for the tenant; the secret is in the answer and nowhere else. */
    async createKey(actor: Actor, tenantId: string, input: CreateApiKeyInput, exec: Executor = db): Promise<CreatedApiKeyView> {
      assertTenantAccess(actor, tenantId, 'admin');
      const tenant = await repo.findTenant(exec, tenantId);
      if (!tenant) throw notFound('tenant', tenantId);
      if (input.product_codes) await apps.requireProductsExist(tenantId, input.product_codes, exec);
      const { key, prefix } = mintKey();
      const now = clock.now();
      const row = await repo.insertApiKey(exec, {
        tenant_id: tenantId,
        key_id: newId('key', now.getTime()),
        name: input.name,
        role: input.role,
        prefix,
        secret_hash: hashSecret(key),
        product_codes: input.product_codes ?? null,
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      });
      return { ...toApiKeyView(row), key };
    },

    async listKeys(
      actor: Actor,
      tenantId: string,
      query: { page?: number; page_size?: number; include_revoked?: boolean },
      exec: Executor = db,
    ) {
      assertTenantAccess(actor, tenantId, 'admin');
      const tenant = await repo.findTenant(exec, tenantId);
      if (!tenant) throw notFound('tenant', tenantId);
      const page = toPage(query);
      const { rows, total } = await repo.listApiKeys(exec, tenantId, { ...page, includeRevoked: query.include_revoked ?? false });
      return { api_keys: rows.map(toApiKeyView), pagination: pagination(total, page) };
    },

    /** Revokes a key; it stops working at once in this process and within the cache time elsewhere. */
    async revokeKey(actor: Actor, tenantId: string, keyId: string, exec: Executor = db): Promise<ApiKeyView> {
      assertTenantAccess(actor, tenantId, 'admin');
      const row = await repo.revokeApiKey(exec, tenantId, keyId, clock.now());
      if (!row) throw notFound('api_key', keyId);
      forget(keyId);
      return toApiKeyView(row);
    },

    /**
     * The caller of `token` when that is known without the database (a key verified within the
     * cache time, or the master key); undefined when only `authenticate` can tell. It lets the
     * request hook answer most calls without a promise.
     */
    knownActor(token: string): Actor | undefined {
      return knownByDigest(hashSecret(token));
    },

    /** Turns a bearer token into an actor, or throws 401 unauthorized. */
    async authenticate(token: string): Promise<Actor> {
      const digest = hashSecret(token);
      const known = knownByDigest(digest);
      if (known) return known;
      if (!token.startsWith(KEY_PREFIX) || token.length < 20) throw tenantErrors.unknownApiKey();

      const row = await repo.findApiKeyByPrefix(db, token.slice(0, KEY_PREFIX.length + 8));
      if (!row || !sameHash(digest, row.secret_hash)) throw tenantErrors.unknownApiKey();
      if (row.revoked_at) throw tenantErrors.revokedApiKey();
      const actor: TenantActor = Object.freeze({
        kind: 'tenant',
        tenantId: row.tenant_id,
        keyId: row.key_id,
        role: row.role,
        productCodes: row.product_codes ? Object.freeze([...row.product_codes]) : null,
      });
      if (deps.cacheSeconds > 0) cache.set(digest, actor);
      repo.touchApiKey(db, row.tenant_id, row.key_id, clock.now()).catch((err: unknown) => deps.onTouchError?.(err));
      return actor;
    },
  };
}
