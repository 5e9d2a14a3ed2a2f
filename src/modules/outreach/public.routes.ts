import { Type } from 'typebox';
import { errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { CallbackRequest } from './channels/channel.js';
import type { Outreach } from './outreach.module.js';

const tags = ['outreach'];
const ProviderParams = Type.Object({ provider_id: Type.String({ minLength: 1, maxLength: 64 }) });
const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });
const CallbackAnswer = Type.Object({ code: Type.Integer(), applied: Type.Integer(), ignored: Type.Integer() });
const InboundAnswer = Type.Object({ code: Type.Integer(), received: Type.Integer(), unsubscribed: Type.Integer() });

// A 1x1 transparent GIF.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** User agents of services that fetch every image of a mail on delivery (not a person reading it). */
const MACHINE_AGENTS = /(bot|crawler|spider|preview|scanner|proofpoint|mimecast|barracuda|symantec|safelinks)/i;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">${body}</body></html>`;

/**
 * Keyless endpoints: provider callbacks (verified by each provider's own signature or token),
 * tracked clicks and opens, and one-click unsubscribe (signed tokens). They read their body as
 * text, because the signatures cover the exact bytes.
 */
export function publicOutreachRoutes(app: Api, deps: { outreach: Outreach }): void {
  const { events } = deps.outreach;
  // The keyless POSTs ignore Idempotency-Key: every anonymous caller shares one idempotency scope,
  // so a stored answer would be replayed to anyone (and a forged key could shadow a real report).

  void app.register(async (plain) => {
    const scope = plain as unknown as Api;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1_048_576 }, (_request, body, done) => done(null, body));

    const toCallback = (request: { protocol: string; hostname: string; url: string; headers: Record<string, string | string[] | undefined>; body: unknown }): CallbackRequest => {
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const type = String(request.headers['content-type'] ?? '');
      let body: unknown = rawBody;
      if (type.includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(rawBody));
      else {
        try {
          body = rawBody ? JSON.parse(rawBody) : null;
        } catch {
          body = rawBody;
        }
      }
      return { url: `${request.protocol}://${request.hostname}${request.url}`, headers: request.headers, rawBody, body };
    };

    scope.post(
      '/v1/outreach/callbacks/:provider_id/status',
      { config: { auth: 'public', idempotent: false }, schema: { tags, summary: "A provider's delivery reports (delivered, failed, bounced, opened); verified by the provider's signature", params: ProviderParams, response: { 200: CallbackAnswer, ...errors(400, 401) } } },
      async (request) => ({ code: 0, ...(await events.statusCallback(request.params.provider_id, toCallback(request))) }),
    );
    scope.post(
      '/v1/outreach/callbacks/:provider_id/inbound',
      { config: { auth: 'public', idempotent: false }, schema: { tags, summary: 'Inbound messages (SMS replies); "TD" unsubscribes the number', params: ProviderParams, response: { 200: InboundAnswer, ...errors(400, 401) } } },
      async (request) => ({ code: 0, ...(await events.inbound(request.params.provider_id, toCallback(request))) }),
    );
    scope.post(
      '/t/:token',
      { config: { auth: 'public', idempotent: false }, schema: { tags, summary: 'One-click unsubscribe (List-Unsubscribe-Post) or the confirm button of the unsubscribe page', params: TokenParams, hide: true } },
      async (request, reply) => {
        await events.unsubscribe(request.params.token);
        return reply.type('text/html; charset=utf-8').send(page('Unsubscribed', '<h1>You are unsubscribed</h1><p>You will not get these messages any more.</p>'));
      },
    );
  });

  app.get(
    '/t/:token',
    { config: { auth: 'public' }, schema: { tags, summary: 'A tracked link: counts the click and redirects; an open pixel; or the unsubscribe page', params: TokenParams, hide: true } },
    async (request, reply) => {
      const token = request.params.token.replace(/\.gif$/, '');
      if (token.startsWith('o.')) {
        await events.open(token, MACHINE_AGENTS.test(String(request.headers['user-agent'] ?? '')));
        return reply.header('cache-control', 'no-store').type('image/gif').send(PIXEL);
      }
      if (token.startsWith('u.')) {
        // A GET never unsubscribes (link scanners follow links): the page asks for the click.
        return reply
          .type('text/html; charset=utf-8')
          .send(page('Unsubscribe', `<h1>Unsubscribe</h1><form method="post" action="/t/${encodeURIComponent(token)}"><button type="submit">Unsubscribe me</button></form>`));
      }
      const target = await events.click(token);
      return reply.header('cache-control', 'no-store').redirect(target, 302);
    },
  );
}
