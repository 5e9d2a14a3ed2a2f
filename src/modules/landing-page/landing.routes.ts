/**
 * The referral campaign's landing page, served by the service: `GET /p/{campaign_id}` answers the
 * built index.html (no-cache) with the campaign's public form inlined (no second round trip before
 * the first paint), `GET /p/assets/{file}` the hashed JS/CSS (immutable, gzip or brotli when the
 * client takes it). Public, outside the API document (like the tracked links of /t/).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { resolveClientIp } from '../../platform/client-ip.js';
import { AppError } from '../../platform/errors.js';
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
const AssetParams = Type.Object({ file: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_][A-Za-z0-9._-]*$' }) });
// The precompressed siblings are sent by content negotiation, never by their own names.
const PRECOMPRESSED = /\.(br|gz)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  woff2: 'font/woff2',
  json: 'application/json',
};
const COMPRESSIBLE = new Set(['js', 'css', 'svg', 'json']);
// Only the page's own scripts and styles run (the inlined form is JSON, not a script); images may
// come from anywhere (the campaign's image URL, the poster as a blob:).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  type: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

/** JSON inside <script>: nothing in it can close the element or start a comment. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function landingPageRoutes(app: Api, deps: LandingPageDeps): void {
  const dist = deps.distDir ?? LANDING_DIST;
  const oauth = deps.wechatOauthBaseUrl ? { wechat_oauth_base_url: deps.wechatOauthBaseUrl.replace(/\/+$/, '') } : {};
  let page: { mtime: number; html: string; link: string } | null = null;
  const assets = new Map<string, Asset>();

  async function indexHtml(): Promise<{ html: string; link: string }> {
    let mtime: number;
    try {
      mtime = (await stat(join(dist, 'index.html'))).mtimeMs;
    } catch {
      throw landingErrors.notBuilt();
    }
    if (page?.mtime !== mtime) {
      const html = await readFile(join(dist, 'index.html'), 'utf8');
      // The browser may fetch the script and the stylesheet as soon as the headers arrive.
      const link = [
        ...[...html.matchAll(/<script type="module" crossorigin src="(\/p\/assets\/[^"]+)"/g)].map((m) => `<${m[1]}>; rel=modulepreload; crossorigin`),
        ...[...html.matchAll(/<link rel="stylesheet" crossorigin href="(\/p\/assets\/[^"]+)"/g)].map((m) => `<${m[1]}>; rel=preload; as=style; crossorigin`),
      ].join(', ');
      page = { mtime, html, link };
      assets.clear(); // a new build: new file names
    }
    return page;
  }

  async function asset(file: string): Promise<Asset> {
    if (PRECOMPRESSED.test(file)) throw landingErrors.assetNotFound(file);
    const known = assets.get(file);
    if (known) return known;
    await indexHtml(); // 503 when not built
    let raw: Buffer;
    try {
      raw = await readFile(join(dist, 'assets', file));
    } catch {
      throw landingErrors.assetNotFound(file);
    }
    const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
    const entry: Asset = { type: TYPES[ext] ?? 'application/octet-stream', raw };
    if (COMPRESSIBLE.has(ext) && raw.length > 1024) {
      // The build writes .br and .gz beside JS and CSS (vite.config.ts); gzip here for anything else.
      const sibling = (suffix: string) => readFile(join(dist, 'assets', `${file}${suffix}`)).catch(() => undefined);
      entry.br = await sibling('.br');
      entry.gzip = (await sibling('.gz')) ?? gzipSync(raw, { level: 6 });
    }
    if (assets.size > 200) assets.clear();
    assets.set(file, entry);
    return entry;
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
      let out = html.replace('<!--mh:data-->', `<script type="application/json" id="mh-data">${data}</script>`);
      if (title) out = out.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(title)}</title>`);
      return sendHtml(reply, status, out, link);
    },
  );

  app.get(
    '/p/assets/:file',
    { config: { auth: 'public' }, schema: { tags, summary: 'A built file of the landing page (hashed name, immutable)', params: AssetParams, hide: true } },
    async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
      const entry = await asset(request.params.file);
      const accept = String(request.headers['accept-encoding'] ?? '');
      void reply.type(entry.type).header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff');
      if (entry.gzip) void reply.header('vary', 'accept-encoding');
      if (entry.br && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(entry.br);
      if (entry.gzip && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(entry.gzip);
      return reply.send(entry.raw);
    },
  );
}
