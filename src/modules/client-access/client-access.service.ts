import { createPublicKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { newId, randomToken } from '../../platform/ids.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { hashSecret } from '../../platform/secrets.js';
import type { AppService } from '../apps/index.js';
import { clientErrors } from './client-access.errors.js';
import * as repo from './client-access.repo.js';
import type {
  CreatedPublishableKeyView,
  CreatedTokenKeyView,
  CreatePublishableKeyInput,
  CreateTokenKeyInput,
  PublishableKeyView,
  TokenKeyView,
} from './client-access.schemas.js';
import { type EndUser, type TokenKeyMaterial, type TokenRules, verifyUserToken } from './client-access.token.js';

export type ClientAccessService = ReturnType<typeof createClientAccessService>;

/** What a request's X-Publishable-Key stands for. */
export interface PublishableKeyInfo {
  tenantId: string;
  keyId: string;
  productCode: string;
  allowedOrigins: ReadonlySet<string>;
}

const KEY_PREFIX = 'pk_';
const CACHE_LIMIT = 10_000;

function toKeyView(row: repo.PublishableKeyRow): PublishableKeyView {
  return {
    key_id: row.key_id,
    product_code: row.product_code,
    name: row.name,
    allowed_origins: row.allowed_origins,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

function toTokenKeyView(row: repo.TokenKeyRow): TokenKeyView {
  return {
    kid: row.kid,
    alg: row.alg,
    product_code: row.product_code,
    public_key: row.public_key,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/** The exact origin a browser sends (`scheme://host[:port]`, lower case, default port dropped), or null. */
export function normalizeOrigin(text: string): string | null {
  if (!/^https?:\/\/[^/?#\s@\\]+$/i.test(text)) return null;
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

function ed25519Key(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw clientErrors.invalidPublicKey();
  }
  if (key.asymmetricKeyType !== 'ed25519') throw clientErrors.invalidPublicKey();
  return key;
}

export function createClientAccessService(deps: {
  db: Database;
  clock: Clock;
  apps: AppService;
  box: SecretBox;
  /** How long a key (publishable or token key) is trusted without a database look-up; 0: never cached. */
  cacheSeconds: number;
  tokenRules: TokenRules;
}) {
  const { db, clock, apps, box } = deps;
  const cacheOptions = {
    max: CACHE_LIMIT,
    ttl: Math.max(1, deps.cacheSeconds) * 1000,
    ttlResolution: 0,
    perf: { now: () => clock.now().getTime() },
  };
  const caching = deps.cacheSeconds > 0;
  // Resolved keys by digest, token keys by (tenant, product, kid), preflight origins: each for
  // cacheSeconds, dropped at once in this process on a revocation.
  const keys = new LRUCache<string, PublishableKeyInfo>(cacheOptions);
  const tokenKeys = new LRUCache<string, { material: TokenKeyMaterial | null }>(cacheOptions);
  const origins = new LRUCache<string, { registered: boolean }>(cacheOptions);
  const tokenKeyId = (tenantId: string, productCode: string, kid: string) => `${tenantId}\u0000${productCode}\u0000${kid}`;

  /** The app, when the admin key may see it (404 app_not_found otherwise). */
  async function appOf(actor: Actor, productCode: string, exec: Executor) {
    const app = await apps.getApp(actor, productCode, exec);
    return { tenantId: app.tenant_id, productCode: app.product_code };
  }

  function materialOf(row: repo.TokenKeyRow): TokenKeyMaterial {
    if (row.alg === 'HS256') return { alg: 'HS256', key: new TextEncoder().encode(box.open<string>(row.secret_sealed!)) };
    return { alg: 'EdDSA', key: ed25519Key(row.public_key!) };
  }

  async function tokenKey(tenantId: string, productCode: string, kid: string): Promise<TokenKeyMaterial | undefined> {
    const id = tokenKeyId(tenantId, productCode, kid);
    const cached = caching ? tokenKeys.get(id) : undefined;
    if (cached) return cached.material ?? undefined;
    const row = await repo.findTokenKey(db, tenantId, productCode, kid);
    const material = row && !row.revoked_at ? materialOf(row) : null;
    if (caching) tokenKeys.set(id, { material });
    return material ?? undefined;
  }

  return {
    async createPublishableKey(actor: Actor, productCode: string, input: CreatePublishableKeyInput, exec: Executor = db): Promise<CreatedPublishableKeyView> {
      requireTenant(actor);
      const app = await appOf(actor, productCode, exec);
      const allowed = new Set<string>();
      for (const origin of input.allowed_origins) {
        const normal = normalizeOrigin(origin);
        if (!normal) throw clientErrors.invalidOrigin(origin);
        allowed.add(normal);
      }
      const key = `${KEY_PREFIX}${randomToken(24)}`;
      const now = clock.now();
      const row = await repo.insertPublishableKey(exec, {
        tenant_id: app.tenantId,
        key_id: newId('pkid', now.getTime()),
        product_code: app.productCode,
        name: input.name ?? null,
        key_hash: hashSecret(key),
        allowed_origins: [...allowed],
        created_at: now,
        revoked_at: null,
      });
      origins.clear();
      return { ...toKeyView(row), key };
    },

    async listPublishableKeys(actor: Actor, productCode: string, exec: Executor = db) {
      const app = await appOf(actor, productCode, exec);
      return { publishable_keys: (await repo.listPublishableKeys(exec, app.tenantId, app.productCode)).map(toKeyView) };
    },

    /** Revokes a key: refused at once in this process, within the cache time in others. */
    async revokePublishableKey(actor: Actor, productCode: string, keyId: string, exec: Executor = db): Promise<PublishableKeyView> {
      const app = await appOf(actor, productCode, exec);
      const row = await repo.revokePublishableKey(exec, app.tenantId, app.productCode, keyId, clock.now());
      if (!row) throw notFound('publishable_key', keyId);
      keys.delete(row.key_hash);
      origins.clear();
      return toKeyView(row);
    },

    async createTokenKey(actor: Actor, productCode: string, input: CreateTokenKeyInput, exec: Executor = db): Promise<CreatedTokenKeyView> {
      const app = await appOf(actor, productCode, exec);
      if ((input.alg === 'EdDSA') !== (input.public_key !== undefined)) throw clientErrors.publicKeyField(input.alg);
      const now = clock.now();
      const secret = input.alg === 'HS256' ? randomToken(32) : null;
      const publicKey = input.public_key === undefined ? null : ed25519Key(input.public_key).export({ type: 'spki', format: 'pem' }).toString();
      const row = await repo.insertTokenKey(exec, {
        tenant_id: app.tenantId,
        product_code: app.productCode,
        kid: newId('kid', now.getTime()),
        alg: input.alg,
        secret_sealed: secret === null ? null : box.seal(secret),
        public_key: publicKey,
        created_at: now,
        revoked_at: null,
      });
      return { ...toTokenKeyView(row), ...(secret !== null ? { secret } : {}) };
    },

    async listTokenKeys(actor: Actor, productCode: string, exec: Executor = db) {
      const app = await appOf(actor, productCode, exec);
      return { user_token_keys: (await repo.listTokenKeys(exec, app.tenantId, app.productCode)).map(toTokenKeyView) };
    },

    async revokeTokenKey(actor: Actor, productCode: string, kid: string, exec: Executor = db): Promise<TokenKeyView> {
      const app = await appOf(actor, productCode, exec);
      const row = await repo.revokeTokenKey(exec, app.tenantId, app.productCode, kid, clock.now());
      if (!row) throw notFound('user_token_key', kid);
      tokenKeys.delete(tokenKeyId(app.tenantId, app.productCode, kid));
      return toTokenKeyView(row);
    },

    /** The active key `key` names, or 401 publishable_key_invalid. */
    async resolveKey(key: string): Promise<PublishableKeyInfo> {
      if (!key.startsWith(KEY_PREFIX) || key.length < 20 || key.length > 128) throw clientErrors.publishableKeyInvalid();
      const digest = hashSecret(key);
      const cached = caching ? keys.get(digest) : undefined;
      if (cached) return cached;
      const row = await repo.findPublishableKeyByHash(db, digest);
      if (!row || row.revoked_at) throw clientErrors.publishableKeyInvalid();
      const info: PublishableKeyInfo = Object.freeze({
        tenantId: row.tenant_id,
        keyId: row.key_id,
        productCode: row.product_code,
        allowedOrigins: new Set(row.allowed_origins),
      });
      if (caching) keys.set(digest, info);
      return info;
    },

    /** The end user of a token for the key's app: user_token_invalid / user_token_expired / product_not_allowed. */
    async endUser(info: PublishableKeyInfo, token: string): Promise<EndUser> {
      const user = await verifyUserToken(token, (kid) => tokenKey(info.tenantId, info.productCode, kid), deps.tokenRules, clock.now());
      if (user.productCodes !== null && !user.productCodes.includes(info.productCode)) {
        throw clientErrors.productNotAllowed(info.productCode, user.productCodes);
      }
      return user;
    },

    /** Whether any active publishable key allows `origin` (the CORS preflight). */
    async originRegistered(origin: string): Promise<boolean> {
      const cached = caching ? origins.get(origin) : undefined;
      if (cached) return cached.registered;
      const registered = await repo.originRegistered(db, origin);
      if (caching) origins.set(origin, { registered });
      return registered;
    },
  };
}
