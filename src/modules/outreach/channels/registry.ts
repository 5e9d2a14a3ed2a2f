import type { ProviderKind } from './channel.js';
import { fcmKind } from './push-fcm.js';
import { webPushKind } from './push-webpush.js';
import { aliyunSmsKind } from './sms-aliyun.js';
import { genericSmsKind } from './sms-generic.js';
import { twilioSmsKind } from './sms-twilio.js';
import { smtpKind } from './smtp.js';
import { webhookKind } from './webhook.js';

type AnyKind = ProviderKind<Record<string, unknown>, Record<string, unknown>>;

/** Every provider kind the service can send through, by name. */
export const PROVIDER_KINDS: ReadonlyMap<string, AnyKind> = new Map(
  ([smtpKind, genericSmsKind, twilioSmsKind, aliyunSmsKind, fcmKind, webPushKind, webhookKind] as unknown as AnyKind[]).map((k) => [k.kind, k]),
);
