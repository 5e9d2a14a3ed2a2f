/**
 * What each provider kind takes: its settings (shown back) and credentials (sealed, never shown
 * back), as the API's channel kinds check them. The form starts from these examples; the API's
 * own check decides and its message is shown.
 */
export interface KindShape {
  kind: string;
  channel: 'sms' | 'email' | 'push_notification' | 'webhook';
  config: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

export const PROVIDER_KINDS: KindShape[] = [
  { kind: 'smtp', channel: 'email', config: { host: 'smtp.example.com', port: 587, from: 'Shop <news@shop.example>', require_tls: true }, secrets: { user: '', pass: '' } },
  { kind: 'sms_generic', channel: 'sms', config: { url: 'https://sms-gateway.example.com/send' }, secrets: { secret: '' } },
  { kind: 'twilio', channel: 'sms', config: { account_sid: 'AC00000000000000000000000000000000', from: '+15005550006' }, secrets: { auth_token: '' } },
  {
    kind: 'aliyun_sms',
    channel: 'sms',
    config: { access_key_id: '', sign_name: '', template_code: 'SMS_000000', template_param_name: 'content', region_id: 'cn-hangzhou' },
    secrets: { access_key_secret: '' },
  },
  { kind: 'fcm', channel: 'push_notification', config: { project_id: 'my-project' }, secrets: { client_email: '', private_key_id: '', private_key: '-----BEGIN PRIVATE KEY-----\n...' } },
  { kind: 'web_push', channel: 'push_notification', config: { subject: 'mailto:ops@shop.example', public_key: '' }, secrets: { private_key: '' } },
  { kind: 'webhook', channel: 'webhook', config: { url: 'https://hooks.example.com/marketing' }, secrets: { secret: '' } },
];

export const shapeOf = (kind: string) => PROVIDER_KINDS.find((k) => k.kind === kind) ?? PROVIDER_KINDS[0]!;
