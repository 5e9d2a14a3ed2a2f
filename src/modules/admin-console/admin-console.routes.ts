/**
 * The admin console, served by the service: `GET /admin/assets/{file}` the hashed JS/CSS of the
 * build (immutable; brotli or gzip when the client takes it), every other path under /admin the
 * built index.html (no-cache; the console's router picks the page). Public and outside the API
 * document: the pages hold no data, the API calls they make carry the operator's session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AssetParams, builtSite } from '../../platform/http/built-site.js';
import type { Api } from '../../platform/http/types.js';
import { ADMIN_DIST } from './admin-build.js';
import { adminConsoleErrors } from './admin-console.errors.js';

export interface AdminConsoleDeps {
  /** The built console (web/admin/dist by default). */
  distDir?: string;
}

const tags = ['admin console'];
const AnyParams = Type.Object({ '*': Type.String({ maxLength: 2000 }) });
/**
 * Only the console's own scripts run and it talks to this service only. Styles allow inline:
 * Naive UI and ECharts set styles at run time (css-render injects <style> elements) and neither
 * takes a nonce.
 */
export const ADMIN_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function adminConsoleRoutes(app: Api, deps: AdminConsoleDeps = {}): void {
  const dist = deps.distDir ?? ADMIN_DIST;
  const site = builtSite(dist, { notBuilt: adminConsoleErrors.notBuilt, assetNotFound: adminConsoleErrors.assetNotFound, maxAssets: 300 });

  async function sendIndex(_request: FastifyRequest, reply: FastifyReply) {
    const { html } = await site.index();
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', ADMIN_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .send(html);
  }

  app.get(
    '/admin/assets/:file',
    { config: { auth: 'public' }, schema: { tags, summary: 'A built file of the admin console (hashed name, immutable)', params: AssetParams, hide: true } },
    site.sendAsset,
  );

  // Every other path is one of the console's pages: the same index.html, its router shows the page.
  // (The app ignores a trailing slash: /admin and /admin/ are this route.)
  app.get('/admin', { config: { auth: 'public' }, schema: { tags, summary: 'The admin console (HTML)', hide: true } }, sendIndex);
  app.get('/admin/*', { config: { auth: 'public' }, schema: { tags, summary: 'A page of the admin console (HTML)', params: AnyParams, hide: true } }, sendIndex);
}
