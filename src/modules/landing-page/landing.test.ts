import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { referralCampaign } from '../referrals/testing/referral-fixtures.js';
import { ensureLandingBuilt, LANDING_DIST, landingPageRoutes } from './index.js';
import { AppError } from '../../platform/errors.js';
import type { Api } from '../../platform/http/types.js';

beforeAll(async () => {
  expect(await ensureLandingBuilt()).not.toBe('no_vite');
}, 180_000);

const inlined = (html: string) => JSON.parse(/<script type="application\/json" id="mh-data">(.*?)<\/script>/s.exec(html)![1]!);

describe('the landing page at /p/{campaign_id}', () => {
  it('answers the built page with the published campaign form inlined, no key, no-cache; 404 view for an unknown one', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t, {}, { campaign_name: '暑期<编程>课' });
    const page = await a.app.inject({ method: 'GET', url: `/p/${campaignId}?c_id=wx&u_id=u1` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    const form = must(await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, { key: null }), 200).body;
    // With the WeChat authorisation page's origin (wechat.oauth_base_url) for the sign-in inside WeChat.
    expect(inlined(page.body)).toEqual({ form, wechat_oauth_base_url: 'https://open.weixin.qq.com' });
    // The title is escaped in <title>, and nothing in the inlined JSON can close its <script>.
    expect(page.body).toContain('<title>暑期&#60;编程&#62;课</title>');
    expect(page.body).not.toContain('暑期<编程>');
    expect(page.body).toMatch(/<script type="module" crossorigin src="\/p\/assets\/[^"]+\.js"><\/script>/);
    // The script and the stylesheet are announced in the headers, before the HTML is parsed.
    const script = /src="(\/p\/assets\/[^"]+\.js)"/.exec(page.body)![1]!;
    expect(page.headers.link).toContain(`<${script}>; rel=modulepreload; crossorigin`);
    expect(page.headers.link).toMatch(/<\/p\/assets\/[^>]+\.css>; rel=preload; as=style; crossorigin/);

    for (const id of ['cmp_nope', 'assets']) {
      const missing = await a.app.inject({ method: 'GET', url: `/p/${id}` });
      expect(missing.statusCode, id).toBe(404);
      expect(inlined(missing.body)).toEqual({ missing: true });
    }
    expect((await a.app.inject({ method: 'GET', url: `/p/${'x'.repeat(65)}` })).statusCode).toBe(400);
  });

  it("answers the console's preview (?preview=1) with the page and no stored form, for any campaign id", async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    for (const id of [campaignId, 'new', 'cmp_nope']) {
      const page = await a.app.inject({ method: 'GET', url: `/p/${id}?preview=1` });
      expect(page.statusCode, id).toBe(200);
      expect(inlined(page.body), id).toEqual({ preview: true });
      expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    }
  });

  it('serves the hashed assets immutable, compressed when asked; unknown or unsafe names are 4xx', async () => {
    const a = await testApp();
    const page = await a.app.inject({ method: 'GET', url: '/p/cmp_nope' });
    const script = /src="(\/p\/assets\/[^"]+\.js)"/.exec(page.body)![1]!;
    const plain = await a.app.inject({ method: 'GET', url: script });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    // Vue's production build (a build run under NODE_ENV=test would bundle the development one, ~120 kB).
    expect(plain.rawPayload.length).toBeLessThan(100_000);
    const gz = await a.app.inject({ method: 'GET', url: script, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).equals(plain.rawPayload)).toBe(true);
    expect(gz.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
    const br = await a.app.inject({ method: 'GET', url: script, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.headers['content-encoding']).toBe('br');

    // The build's own precompressed siblings go out by negotiation only.
    expect(br.rawPayload.equals(await readFile(join(LANDING_DIST, `${script.slice(1).replace('p/', '')}.br`)))).toBe(true);
    const sibling = await a.app.inject({ method: 'GET', url: `${script}.br` });
    expect(sibling.statusCode).toBe(404);
    const unknown = await a.app.inject({ method: 'GET', url: '/p/assets/nope-123.js' });
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body).error.code).toBe('landing_asset_not_found');
    for (const url of ['/p/assets/..%2Findex.html', '/p/assets/.env', '/p/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      expect((await a.app.inject({ method: 'GET', url })).statusCode, url).toBe(400);
    }
  });

  it('answers 503 landing_page_not_built when the page was never built', async () => {
    const a = await testApp();
    const dir = await mkdtemp(join(tmpdir(), 'mh-landing-'));
    const app = Fastify() as unknown as Api;
    try {
      // The app's error handler answers AppErrors this way (status by kind, the stable code).
      app.setErrorHandler((err, _request, reply) => (err instanceof AppError ? reply.status(err.status).send({ error: { code: err.code, message: err.message } }) : reply.status(500).send()));
      landingPageRoutes(app, { distDir: dir, loadForm: (id) => a.app.services.referrals.publicForm(id) });
      for (const url of ['/p/cmp_x', '/p/assets/index-1.js']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(JSON.parse(res.body).error).toMatchObject({ code: 'landing_page_not_built' });
        expect(JSON.parse(res.body).error.message).toContain('npm run build:web');
      }
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
