/**
 * The referral poster: `POST /api/v1/qrcode/generate` (the product document's path, verbatim) and
 * `POST /v1/posters`, the same call. Answers the PNG itself. A tenant key for now (readonly is
 * enough: nothing is written); the landing page's keyless scoping decides later whether a
 * published campaign's page may ask for it without one.
 */
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import { PosterBody } from './poster.schemas.js';
import type { PosterService } from './poster.service.js';

const tags = ['posters'];
// Not idempotent-replayed: the answer is an image (rendering again is the replay), nothing is stored.
const config = { auth: 'tenant' as const, role: 'readonly' as const, idempotent: false };
const schema = {
  tags,
  summary: 'A referral poster (PNG): campaign image, title, referrer, QR code of the landing URL',
  description: 'The QR code holds `<outreach.public_url>/p/{campaign_id}?u_id={user_id}&c_id={channel_id}`. 404 campaign_not_found for a campaign the key cannot see.',
  body: PosterBody,
  produces: ['image/png'],
  response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'The poster, image/png, 750 x 1334' }), ...errors(...authErrors, 404) },
};

export function posterRoutes(app: Api, deps: { posters: PosterService }): void {
  for (const path of ['/api/v1/qrcode/generate', '/v1/posters']) {
    app.post(path, { config, schema }, async (request, reply) => {
      const png = await deps.posters.generate(request.actor!, request.body);
      return reply.type('image/png').header('cache-control', 'private, max-age=300').send(png);
    });
  }
}
