/**
 * The admin console, served by the service: `GET /admin/assets/{file}` the hashed JS/CSS of the
 * build (immutable; brotli or gzip when the client takes it), every other path under /admin the
 * built index.html (no-cache; the console's router picks the page). Public and outside the API
 * document: the pages hold no data, the API calls they make carry the operator's session.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Api } from '../../platform/http/types.js';
import { ADMIN_DIST } from './admin-build.js';
import { adminConsoleErrors } from './admin-console.errors.js';

export interface AdminConsoleDeps {
  /** The built console (web/admin/dist by default). */
  distDir?: string;
}

const tags = ['admin console'];
const AssetParams = Type.Object({ file: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_][A-Za-z0-9._-]*$' }) });
const AnyParams = Type.Object({ '*': Type.String({ maxLength: 2000 }) });
const PRECOMPRESSED = /\.(br|gz)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  json: 'application/json',
};
const COMPRESSIBLE = new Set(['js', 'css', 'svg', 'json']);
/**
 * Only the console's own scripts run and it talks to this service only. Styles allow inline:
 * Naive UI and ECharts set styles at run time (css-render injects <style> elements) and neither
 * takes a nonce.
 */
export const ADMIN_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  type: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

export function adminConsoleRoutes(app: Api, deps: AdminConsoleDeps = {}): void {
  const dist = deps.distDir ?? ADMIN_DIST;
  let page: { mtime: number; html: string } | null = null;
  const assets = new Map<string, Asset>();

  async function indexHtml(): Promise<string> {
    let mtime: number;
    try {
      mtime = (await stat(join(dist, 'index.html'))).mtimeMs;
    } catch {
      throw adminConsoleErrors.notBuilt();
    }
    if (page?.mtime !== mtime) {
      page = { mtime, html: await readFile(join(dist, 'index.html'), 'utf8') };
      assets.clear(); // a new build: new file names
    }
    return page.html;
  }

  async function asset(file: string): Promise<Asset> {
    if (PRECOMPRESSED.test(file)) throw adminConsoleErrors.assetNotFound(file);
    await indexHtml(); // 503 when not built; forgets the files of an older build
    const known = assets.get(file);
    if (known) return known;
    let raw: Buffer;
    try {
      raw = await readFile(join(dist, 'assets', file));
    } catch {
      throw adminConsoleErrors.assetNotFound(file);
    }
    const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
    const entry: Asset = { type: TYPES[ext] ?? 'application/octet-stream', raw };
    if (COMPRESSIBLE.has(ext) && raw.length > 1024) {
      // The build writes .br and .gz beside JS and CSS (web/admin/vite.config.ts); gzip here otherwise.
      const sibling = (suffix: string) => readFile(join(dist, 'assets', `${file}${suffix}`)).catch(() => undefined);
      entry.br = await sibling('.br');
      entry.gzip = (await sibling('.gz')) ?? gzipSync(raw, { level: 6 });
    }
    if (assets.size > 300) assets.clear();
    assets.set(file, entry);
    return entry;
  }

  async function sendIndex(_request: FastifyRequest, reply: FastifyReply) {
    const html = await indexHtml();
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

  // Every other path is one of the console's pages: the same index.html, its router shows the page.
  // (The app ignores a trailing slash: /admin and /admin/ are this route.)
  app.get('/admin', { config: { auth: 'public' }, schema: { tags, summary: 'The admin console (HTML)', hide: true } }, sendIndex);
  app.get('/admin/*', { config: { auth: 'public' }, schema: { tags, summary: 'A page of the admin console (HTML)', params: AnyParams, hide: true } }, sendIndex);
}
