import type { ColumnType } from 'kysely';

type Json<T> = ColumnType<T, string, string>;

/** A tenant's WeChat Pay merchant credentials; the private key and APIv3 key are sealed. */
export interface PaymentMerchantTable {
  tenant_id: string;
  mchid: string;
  appid: string;
  /** The merchant API certificate's serial number. */
  serial_no: string;
  platform_certificates: Json<{ serial_no: string; public_key_pem: string }[]>;
  base_url: string | null;
  /** `{private_key_pem, apiv3_key}` sealed with platform/secret-box. */
  secret_sealed: string;
  created_at: Date;
  updated_at: Date;
}

/** Which tenants registered a platform certificate / public key serial (callbacks name one). */
export interface PaymentPlatformSerialTable {
  serial_no: string;
  tenant_id: string;
}

/** The sandbox provider's generated keys (one row, `name = 'default'`), sealed. */
export interface PaymentSandboxKeyTable {
  name: string;
  keys_sealed: string;
  created_at: Date;
}

export interface PaymentTables {
  payment_merchant: PaymentMerchantTable;
  payment_platform_serial: PaymentPlatformSerialTable;
  payment_sandbox_key: PaymentSandboxKeyTable;
}
