/**
 * Serving a built front end (a Vite dist/ folder) from the service: its index.html, re-read when
 * a new build replaces it, and its hashed files under assets/ (immutable; the build's brotli and
 * gzip siblings sent by content negotiation, gzip made here for files without one). Used by the
 * landing page and the admin console.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppError } from '../errors.js';

export interface BuiltAsset {
  type: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

export interface BuiltSiteOptions {
  /** The 503 answered while the site is not built. */
  notBuilt: () => AppError;
  /** The 404 of a file the build does not have. */
  assetNotFound: (file: string) => AppError;
  /** Files kept in memory before the cache starts over. */
  maxAssets: number;
}

/** The `{file}` of an asset route: a plain file name, nothing that climbs out of assets/. */
export const AssetParams = Type.Object({ file: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_][A-Za-z0-9._-]*$' }) });

// The precompressed siblings are sent by content negotiation, never by their own names.
const PRECOMPRESSED = /\.(br|gz)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  json: 'application/json',
};
const COMPRESSIBLE = new Set(['js', 'css', 'svg', 'json']);

export function builtSite(dist: string, options: BuiltSiteOptions) {
  let page: { mtime: number; html: string } | null = null;
  const assets = new Map<string, BuiltAsset>();

  /** The built index.html and whether it is a new build since the last call (503 when not built). */
  async function index(): Promise<{ html: string; rebuilt: boolean }> {
    let mtime: number;
    try {
      mtime = (await stat(join(dist, 'index.html'))).mtimeMs;
    } catch {
      throw options.notBuilt();
    }
    if (page?.mtime === mtime) return { html: page.html, rebuilt: false };
    page = { mtime, html: await readFile(join(dist, 'index.html'), 'utf8') };
    assets.clear(); // a new build: new file names
    return { html: page.html, rebuilt: true };
  }

  async function asset(file: string): Promise<BuiltAsset> {
    if (PRECOMPRESSED.test(file)) throw options.assetNotFound(file);
    await index(); // 503 when not built; forgets the files of an older build
    const known = assets.get(file);
    if (known) return known;
    let raw: Buffer;
    try {
      raw = await readFile(join(dist, 'assets', file));
    } catch {
      throw options.assetNotFound(file);
    }
    const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
    const entry: BuiltAsset = { type: TYPES[ext] ?? 'application/octet-stream', raw };
    if (COMPRESSIBLE.has(ext) && raw.length > 1024) {
      // The builds write .br and .gz beside JS and CSS (their vite.config.ts); gzip here otherwise.
      const sibling = (suffix: string) => readFile(join(dist, 'assets', `${file}${suffix}`)).catch(() => undefined);
      entry.br = await sibling('.br');
      entry.gzip = (await sibling('.gz')) ?? gzipSync(raw, { level: 6 });
    }
    if (assets.size >= options.maxAssets) assets.clear();
    assets.set(file, entry);
    return entry;
  }

  /** Answers `GET .../assets/{file}`: immutable, brotli or gzip when the client takes it. */
  async function sendAsset(request: FastifyRequest<{ Params: { file: string } }>, reply: FastifyReply) {
    const entry = await asset(request.params.file);
    const accept = String(request.headers['accept-encoding'] ?? '');
    void reply.type(entry.type).header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff');
    if (entry.gzip) void reply.header('vary', 'accept-encoding');
    if (entry.br && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(entry.br);
    if (entry.gzip && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(entry.gzip);
    return reply.send(entry.raw);
  }

  return { index, asset, sendAsset };
}
