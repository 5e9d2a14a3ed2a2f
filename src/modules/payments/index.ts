/**
 * The payments module's public surface: payment providers behind one interface (WeChat Pay API v3
 * and a local sandbox that signs and encrypts exactly as WeChat does), each tenant's WeChat Pay
 * merchant credentials (sealed; `/v1/payments/wechat-pay`) and the sandbox's stored keys: the
 * module that owns orders calls `start`, exposes its callback route, and calls `verifyCallback`.
 */
export type {
  KeyPairPem,
  PaymentNotice,
  PaymentProvider,
  PaymentScene,
  PaymentStart,
  PaymentStartInput,
  RefundInput,
  SandboxKeys,
  WechatPayConfig,
} from './payment.types.js';
export { paymentErrors } from './payment.errors.js';
export { createWechatPayProvider, WECHAT_PAY_BASE_URL } from './wechat-pay.provider.js';
export { createSandboxProvider, generateSandboxKeys, type SandboxConfig, type SandboxPayOptions, type SandboxProvider } from './sandbox.provider.js';
export { verifyJsapiParams } from './wechat-pay.crypto.js';
export { createMerchantService, type MerchantService } from './merchant.service.js';
export { createStoredSandbox, type StoredSandbox } from './sandbox.store.js';
export { paymentRoutes } from './merchant.routes.js';
