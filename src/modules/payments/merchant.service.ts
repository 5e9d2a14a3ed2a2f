import type { KeyObject } from 'node:crypto';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { privateAddressOf } from '../../platform/network-guard.js';
import type { SecretBox } from '../../platform/secret-box.js';
import * as repo from './merchant.repo.js';
import type { WechatPayInput, WechatPayViewType } from './merchant.schemas.js';
import { paymentErrors } from './payment.errors.js';
import type { PaymentProvider } from './payment.types.js';
import { privateKey, publicKey } from './wechat-pay.crypto.js';
import { createWechatPayProvider } from './wechat-pay.provider.js';

export interface MerchantServiceDeps {
  db: Database;
  clock: Clock;
  box: SecretBox;
  /** Tests and closed networks only: let base_url name a loopback or private address, over http. */
  allowPrivateNetworks: boolean;
}

interface Sealed {
  private_key_pem: string;
  apiv3_key: string;
}

export type MerchantService = ReturnType<typeof createMerchantService>;

function toView(row: repo.MerchantRow): WechatPayViewType {
  return {
    configured: true,
    mchid: row.mchid,
    appid: row.appid,
    serial_no: row.serial_no,
    platform_serials: row.platform_certificates.map((c) => c.serial_no),
    base_url: row.base_url,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function rsaKey(field: string, parse: () => KeyObject): void {
  let key: KeyObject;
  try {
    key = parse();
  } catch {
    throw paymentErrors.credentialsInvalid(field, 'is not a PEM key or certificate that parses');
  }
  if (key.asymmetricKeyType !== 'rsa') throw paymentErrors.credentialsInvalid(field, 'must be an RSA key (WeChat Pay API v3 signs with RSA 2048)');
}

/** Every refusal a PUT can meet, before anything is written. */
async function check(input: WechatPayInput, allowPrivateNetworks: boolean): Promise<void> {
  rsaKey('private_key_pem', () => privateKey(input.private_key_pem));
  if (!/^[\x21-\x7e]{32}$/.test(input.apiv3_key)) throw paymentErrors.credentialsInvalid('apiv3_key', 'must be exactly 32 printable ASCII characters');
  const seen = new Set<string>();
  input.platform_certificates.forEach((c, i) => {
    if (seen.has(c.serial_no)) throw paymentErrors.credentialsInvalid(`platform_certificates[${i}].serial_no`, 'is listed twice');
    seen.add(c.serial_no);
    rsaKey(`platform_certificates[${i}].public_key_pem`, () => publicKey(c.public_key_pem));
  });
  if (input.base_url) {
    if (!URL.canParse(input.base_url)) throw paymentErrors.credentialsInvalid('base_url', 'is not a URL');
    if (allowPrivateNetworks) return;
    // Signed requests go to base_url: it must not point the service at its own network.
    if (!input.base_url.startsWith('https://')) throw paymentErrors.credentialsInvalid('base_url', 'must be https');
    const address = await privateAddressOf(input.base_url).catch(() => {
      throw paymentErrors.credentialsInvalid('base_url', 'does not resolve');
    });
    if (address) throw paymentErrors.credentialsInvalid('base_url', 'must not be a loopback, private or link-local address');
  }
}

/**
 * Each tenant's WeChat Pay merchant credentials: stored with the secrets sealed, never answered,
 * and turned into a provider per tenant (kept per process while the row's updated_at is the same,
 * so a PUT in another process is seen at the next use).
 */
export function createMerchantService(deps: MerchantServiceDeps) {
  const { db, clock, box } = deps;
  const built = new Map<string, { updatedAt: number; provider: PaymentProvider }>();
  const MAX_BUILT = 10_000;

  function providerOf(row: repo.MerchantRow): PaymentProvider {
    const hit = built.get(row.tenant_id);
    if (hit && hit.updatedAt === row.updated_at.getTime()) return hit.provider;
    const secret = box.open<Sealed>(row.secret_sealed);
    const provider = createWechatPayProvider({
      mchid: row.mchid,
      appid: row.appid,
      serial_no: row.serial_no,
      private_key_pem: secret.private_key_pem,
      apiv3_key: secret.apiv3_key,
      platform_certificates: row.platform_certificates,
      ...(row.base_url ? { base_url: row.base_url } : {}),
      now: () => clock.now().getTime(),
    });
    if (built.size >= MAX_BUILT) built.delete(built.keys().next().value as string);
    built.set(row.tenant_id, { updatedAt: row.updated_at.getTime(), provider });
    return provider;
  }

  return {
    /** Creates or replaces the caller's tenant's credentials (checked first: PEMs parse, the APIv3 key is 32 characters). */
    async put(actor: Actor, input: WechatPayInput, exec: Executor = db): Promise<WechatPayViewType> {
      const tenant = requireTenant(actor);
      await check(input, deps.allowPrivateNetworks);
      const now = clock.now();
      const row = await repo.upsertMerchant(
        exec,
        {
          tenant_id: tenant.tenantId,
          mchid: input.mchid,
          appid: input.appid,
          serial_no: input.serial_no,
          platform_certificates: JSON.stringify(input.platform_certificates.map((c) => ({ serial_no: c.serial_no, public_key_pem: c.public_key_pem }))),
          base_url: input.base_url ?? null,
          secret_sealed: box.seal({ private_key_pem: input.private_key_pem, apiv3_key: input.apiv3_key } satisfies Sealed),
          created_at: now,
          updated_at: now,
        },
        input.platform_certificates.map((c) => c.serial_no),
      );
      built.delete(tenant.tenantId);
      return toView(row);
    },

    async get(actor: Actor): Promise<WechatPayViewType> {
      const row = await repo.findMerchant(db, requireTenant(actor).tenantId);
      if (!row) throw paymentErrors.merchantNotFound();
      return toView(row);
    },

    async remove(actor: Actor, exec: Executor = db): Promise<void> {
      const tenantId = requireTenant(actor).tenantId;
      if (!(await repo.deleteMerchant(exec, tenantId))) throw paymentErrors.merchantNotFound();
      built.delete(tenantId);
    },

    /** The tenant's WeChat Pay provider, or null when it stored no credentials. */
    async provider(tenantId: string, exec: Executor = db): Promise<PaymentProvider | null> {
      const row = await repo.findMerchant(exec, tenantId);
      return row ? providerOf(row) : null;
    },

    /**
     * The providers that may have signed a callback naming this platform serial (Wechatpay-Serial):
     * those of every tenant that registered it. Empty for a serial nobody registered.
     */
    async bySerial(serial: string | undefined, exec: Executor = db): Promise<{ tenantId: string; provider: PaymentProvider }[]> {
      if (!serial || serial.length > 64) return [];
      const rows = await repo.merchantsBySerial(exec, serial);
      return rows.map((row) => ({ tenantId: row.tenant_id, provider: providerOf(row) }));
    },
  };
}
