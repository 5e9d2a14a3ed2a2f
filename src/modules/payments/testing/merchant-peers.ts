import type { TestApp } from '../../../../test/helpers/test-app.js';
import type { SandboxKeys } from '../index.js';
import { startWechatPayPeer, type WechatPayPeer } from './wechat-pay-peer.js';

/** A local peer speaking WeChat Pay API v3 for the merchant these keys describe (as WeChat would issue them). */
export const peerFor = (k: SandboxKeys): Promise<WechatPayPeer> =>
  startWechatPayPeer({
    mchid: k.mchid,
    appid: k.appid,
    merchant: { serial_no: k.merchant.serial_no, public_key_pem: k.merchant.public_key_pem },
    platform: { serial_no: k.platform.serial_no, private_key_pem: k.platform.private_key_pem },
    apiv3_key: k.apiv3_key,
  });

/** The body of `PUT /v1/payments/wechat-pay` for that merchant, pointed at its peer. */
export const merchantCredentials = (k: SandboxKeys, baseUrl: string, extra: Record<string, unknown> = {}) => ({
  mchid: k.mchid,
  appid: k.appid,
  serial_no: k.merchant.serial_no,
  private_key_pem: k.merchant.private_key_pem,
  apiv3_key: k.apiv3_key,
  platform_certificates: [{ serial_no: k.platform.serial_no, public_key_pem: k.platform.public_key_pem }],
  base_url: baseUrl,
  ...extra,
});

/** Delivers a signed notice to the callback path as WeChat would (the exact bytes). */
export function deliverNotice(a: TestApp, notice: { headers: Record<string, string>; body: string }, path = '/api/v1/orders/payment/notify') {
  return a.app.inject({ method: 'POST', url: path, headers: { ...notice.headers, 'content-type': 'application/json' }, payload: notice.body });
}
