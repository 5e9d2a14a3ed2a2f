/**
 * The referral campaign's landing page, served by the service: `GET /p/{campaign_id}` answers the
 * built index.html (no-cache) with the campaign's public form inlined (no second round trip before
 * the first paint), `GET /p/assets/{file}` the hashed JS/CSS (immutable, gzip or brotli when the
 * client takes it). Public, outside the API document (like the tracked links of /t/).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { resolveClientIp } from '../../platform/client-ip.js';
import { AppError } from '../../platform/errors.js';
import { AssetParams, builtSite } from '../../platform/http/built-site.js';
import type { Api } from '../../platform/http/types.js';
import { LANDING_DIST } from './landing-build.js';
import { landingErrors } from './landing.errors.js';

export interface LandingPageDeps {
  /** The built page (web/landing/dist by default). */
  distDir?: string;
  /** WeChat's web authorisation page, inlined for the page (wechat.oauth_base_url; default WeChat's own). */
  wechatOauthBaseUrl?: string;
  /** The campaign's public form, as `GET /api/v1/campaigns/{id}/form` answers it (same limits, same 404). */
  loadForm: (campaignId: string, clientIp: string) => Promise<{ campaign_id: string; title: string }>;
}

const tags = ['landing page'];
const PageParams = Type.Object({ campaignId: Type.String({ minLength: 1, maxLength: 64 }) });
// Only the page's own scripts and styles run (the inlined form is JSON, not a script); images may
// come from anywhere (the campaign's image URL, the poster as a blob:).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/** JSON inside <script>: nothing in it can close the element or start a comment. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function landingPageRoutes(app: Api, deps: LandingPageDeps): void {
  const dist = deps.distDir ?? LANDING_DIST;
  const oauth = deps.wechatOauthBaseUrl ? { wechat_oauth_base_url: deps.wechatOauthBaseUrl.replace(/\/+$/, '') } : {};
  const site = builtSite(dist, { notBuilt: landingErrors.notBuilt, assetNotFound: landingErrors.assetNotFound, maxAssets: 200 });
  let link = '';

  async function indexHtml(): Promise<{ html: string; link: string }> {
    const { html, rebuilt } = await site.index();
    if (rebuilt) {
      // The browser may fetch the script and the stylesheet as soon as the headers arrive.
      link = [
        ...[...html.matchAll(/<script type="module" crossorigin src="(\/p\/assets\/[^"]+)"/g)].map((m) => `<${m[1]}>; rel=modulepreload; crossorigin`),
        ...[...html.matchAll(/<link rel="stylesheet" crossorigin href="(\/p\/assets\/[^"]+)"/g)].map((m) => `<${m[1]}>; rel=preload; as=style; crossorigin`),
      ].join(', ');
    }
    return { html, link };
  }

  const sendHtml = (reply: FastifyReply, status: number, html: string, link: string) =>
    (link ? reply.header('link', link) : reply)
      .status(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'strict-origin-when-cross-origin')
      .send(html);

  app.get(
    '/p/:campaignId',
    { config: { auth: 'public' }, schema: { tags, summary: "A referral campaign's landing page (HTML)", params: PageParams, hide: true } },
    async (request: FastifyRequest<{ Params: { campaignId: string } }>, reply) => {
      const { html, link } = await indexHtml();
      let data: string;
      let status = 200;
      let title: string | null = null;
      // The console's preview frames the page with ?preview=1 and posts it the unsaved form: the
      // stored one (maybe none yet, maybe unpublished) is not looked up.
      const preview = (request.query as Record<string, unknown> | undefined)?.preview === '1';
      if (preview) data = scriptJson({ preview: true });
      else {
        try {
          const form = await deps.loadForm(request.params.campaignId, resolveClientIp(request).ip);
          data = scriptJson({ form, ...oauth });
          title = form.title;
        } catch (err) {
          if (!(err instanceof AppError) || (err.kind !== 'not_found' && err.kind !== 'rate_limited')) throw err;
          // Unknown, unpublished or disabled: the page's own "not found" view with a 404. Rate limited:
          // the page without its form; the browser asks the API and shows that answer.
          status = err.kind === 'not_found' ? 404 : 200;
          data = scriptJson(status === 404 ? { missing: true } : { ...oauth });
        }
      }
      let out = html.replace('<!--mh:data-->', `<script type="application/json" id="mh-data">${data}</script>`);
      if (title) out = out.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(title)}</title>`);
      return sendHtml(reply, status, out, link);
    },
  );

  app.get(
    '/p/assets/:file',
    { config: { auth: 'public' }, schema: { tags, summary: 'A built file of the landing page (hashed name, immutable)', params: AssetParams, hide: true } },
    site.sendAsset,
  );
}
