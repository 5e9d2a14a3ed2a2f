/**
 * The payment callbacks (支付回调 / 支付通知): `POST /api/v1/orders/payment/callback` and
 * `/payment/notify`, keyless, verified by the provider over the exact bytes received. They live
 * in their own plugin scope so that only they read the body as a raw string.
 */
import { Type } from 'typebox';
import type { Api } from '../../platform/http/types.js';
import type { ReferralPayments } from './referral.payment.js';
import type { ProviderName } from './referral.ports.js';

const CallbackQuery = Type.Object({ provider: Type.Optional(Type.Union([Type.Literal('sandbox'), Type.Literal('wechat_pay')])) });

function headerMap(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  return out;
}

export function referralCallbackRoutes(app: Api, deps: { payments: ReferralPayments }): void {
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
    for (const path of ['/api/v1/orders/payment/callback', '/api/v1/orders/payment/notify']) {
      scope.post(
        path,
        {
          config: { auth: 'public', idempotent: false },
          schema: {
            tags: ['referrals: landing page (keyless)'],
            summary: 'Payment callback (signed by the provider; idempotent by trade_no)',
            security: [],
            querystring: CallbackQuery,
          },
        },
        async (request, reply) => {
          const raw = typeof request.body === 'string' ? request.body : '';
          const hint = (request.query as { provider?: ProviderName }).provider;
          const answer = await deps.payments.handleCallback(headerMap(request.headers), raw, hint);
          // A refusal is any non-2xx to the provider (WeChat retries those); its body is the
          // service's one error shape, with the verification's stable code.
          if (answer.error) {
            request.log.warn({ code: answer.error.code }, 'payment callback refused');
            throw answer.error;
          }
          return reply.status(answer.status).send(answer.body ?? '');
        },
      );
    }
  });
}
