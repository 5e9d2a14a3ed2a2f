import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../../../test/helpers/test-app.js';
import { AppError } from '../../platform/errors.js';
import type { Api } from '../../platform/http/types.js';
import { ADMIN_DIST, adminConsoleRoutes, ensureAdminBuilt } from './index.js';

describe('the admin console served at /admin', () => {
  let a: TestApp;
  let script: string;

  beforeAll(async () => {
    expect(await ensureAdminBuilt()).not.toBe('no_vite');
    a = await testApp();
    // The entry script index.html loads (other chunks may be named index-* too).
    const html = await readFile(join(ADMIN_DIST, 'index.html'), 'utf8');
    script = /<script[^>]+src="\/admin\/assets\/([^"]+\.js)"/.exec(html)![1]!;
    expect((await readdir(join(ADMIN_DIST, 'assets'))).includes(script)).toBe(true);
  }, 300_000);

  it('answers index.html for every page path (no-cache, CSP), no key needed', async () => {
    for (const url of ['/admin', '/admin/', '/admin/signin', '/admin/campaigns/cmp_1/edit', '/admin/codes?campaign_id=x']) {
      const res = await a.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.body).toContain(`/admin/assets/${script}`);
    }
  });

  it('answers hashed files immutable, compressed when asked; an unknown file is 404 admin_asset_not_found, never index.html', async () => {
    const plain = await a.app.inject({ method: 'GET', url: `/admin/assets/${script}` });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toContain('text/javascript');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const gz = await a.app.inject({ method: 'GET', url: `/admin/assets/${script}`, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(plain.body);
    for (const url of ['/admin/assets/nope-123.js', `/admin/assets/${script}.gz`]) {
      const res = await a.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code).toBe('admin_asset_not_found');
    }
    expect((await a.app.inject({ method: 'GET', url: '/admin/assets/..%2Fpackage.json' })).statusCode).toBe(400);
  });

  it('answers 503 admin_console_not_built when the console was never built', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mh-admin-'));
    const app = Fastify() as unknown as Api;
    try {
      app.setErrorHandler((err, _request, reply) => (err instanceof AppError ? reply.status(err.status).send({ error: { code: err.code, message: err.message } }) : reply.status(500).send()));
      adminConsoleRoutes(app, { distDir: dir });
      for (const url of ['/admin/', '/admin/campaigns', '/admin/assets/index-1.js']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(res.json().error).toMatchObject({ code: 'admin_console_not_built' });
        expect(res.json().error.message).toContain('npm run build:admin');
      }
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
