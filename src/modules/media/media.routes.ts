/**
 * Images uploaded by a tenant (campaign main images): `POST /v1/media` with the raw image as the
 * body (admin key), `GET /v1/media` (the tenant's uploads), and `GET /media/{id}.{ext}`, public
 * and cached for a year (the id is the content's hash: the bytes behind a URL never change).
 */
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { FileParams, Media, MediaList, MediaListQuery } from './media.schemas.js';
import { MEDIA_TYPES, type MediaService } from './media.service.js';

const tags = ['media'];

export function mediaRoutes(app: Api, deps: { media: MediaService; uow: UnitOfWork; maxBytes: number }): void {
  const { media, uow } = deps;
  // The raw image body is parsed only in this scope: every other route keeps answering 415 to images.
  void app.register(async (scope) => {
    scope.addContentTypeParser(Object.keys(MEDIA_TYPES), { parseAs: 'buffer', bodyLimit: deps.maxBytes }, (_request, body, done) => done(null, body));
    scope.post(
      '/v1/media',
      {
        bodyLimit: deps.maxBytes,
        // The same bytes are the same id: sending the image again is safe by itself.
        config: { role: 'admin', idempotent: false },
        schema: {
          tags,
          summary: 'Upload an image (body: the raw image/png, image/jpeg, image/webp or image/gif); metadata is stripped',
          description: `Answers the stored image: media_id is the SHA-256 of the stored bytes, url is /media/{media_id}.{ext}. Larger than media.max_bytes: 413 payload_too_large; not an image: 400 media_invalid.`,
          consumes: Object.keys(MEDIA_TYPES),
          response: { 201: Media, ...errors(...authErrors, 413, 415) },
        },
      },
      async (request, reply) => {
        // Decoded and cleaned before the transaction: only the two inserts run inside it.
        const row = await media.prepare(request.headers['content-type'], request.body);
        return uow(request, reply, 201, (trx) => media.save(request.actor!, row, trx));
      },
    );
  });
  app.get(
    '/v1/media',
    { schema: { tags, summary: "The tenant's uploaded images, newest first", querystring: MediaListQuery, response: { 200: MediaList, ...errors(...authErrors) } } },
    async (request) => media.list(request.actor!, request.query),
  );
  app.get(
    '/media/:file',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'An uploaded image (public; cached for a year: the URL names the content)',
        security: [],
        params: FileParams,
        produces: ['image/png', 'image/jpeg', 'image/webp', 'image/gif'],
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), 304: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const row = await media.file(request.params.file);
      const etag = `"${row.media_id}"`;
      void reply.header('cache-control', 'public, max-age=31536000, immutable').header('etag', etag);
      if (request.headers['if-none-match']?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return reply.status(304).send(null);
      return reply.type(row.content_type).send(row.data);
    },
  );
}
