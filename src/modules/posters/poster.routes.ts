/**
 * The referral poster: `POST /api/v1/qrcode/generate` (the product document's path, verbatim) and
 * `POST /v1/posters`, the same call. Answers the PNG itself. With a tenant key (readonly is
 * enough: nothing is written) any campaign of the key; the document's path also without a key,
 * for a campaign the referral hub publishes (the landing page's keyless scoping and rate limit).
 */
import { Type } from 'typebox';
import { resolveClientIp } from '../../platform/client-ip.js';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api, RouteAuth } from '../../platform/http/types.js';
import { PosterBody } from './poster.schemas.js';
import type { PosterService } from './poster.service.js';

const tags = ['posters'];
// Not idempotent-replayed: the answer is an image (rendering again is the replay), nothing is stored.
const config: { auth: RouteAuth; role: 'readonly'; idempotent: boolean } = { auth: 'tenant', role: 'readonly', idempotent: false };
const schema = {
  tags,
  summary: 'A referral poster (PNG): campaign image, title, referrer, QR code of the landing URL',
  description: 'The QR code holds `<outreach.public_url>/p/{campaign_id}?u_id={user_id}&c_id={channel_id}`. 404 campaign_not_found for a campaign the key cannot see.',
  body: PosterBody,
  produces: ['image/png'],
  response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'The poster, image/png, 750 x 1334' }), ...errors(...authErrors, 404, 429) },
};

export function posterRoutes(app: Api, deps: { posters: PosterService; admit: (clientIp: string) => Promise<void> }): void {
  for (const path of ['/api/v1/qrcode/generate', '/v1/posters']) {
    // The document's path also answers the landing page without a key, for a campaign the referral
    // hub publishes (counted against rate_limits.referral_page per end-user IP first).
    const keyless = path.startsWith('/api/');
    app.post(
      path,
      { config: keyless ? { ...config, auth: 'optional' } : config, schema: keyless ? { ...schema, description: `${schema.description} Without a key: only a campaign the referral hub publishes (else 404 campaign_not_found), title and image from the campaign (image_url and title refused), rate-limited per IP (429).` } : schema },
      async (request, reply) => {
        if (!request.actor) await deps.admit(resolveClientIp(request).ip);
        const png = await deps.posters.generate(request.actor, request.body);
        return reply.type('image/png').header('cache-control', 'private, max-age=300').send(png);
      },
    );
  }
}
