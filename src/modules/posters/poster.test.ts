import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jsQRModule from 'jsqr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { fetchImage } from './poster.image.js';
import { landingUrl } from './poster.service.js';

const PUBLIC_URL = 'http://localhost:8105'; // outreach.public_url's default, as the shared test app runs
let server: Server;
let imageBase = '';
const hits = new Map<string, number>();
// jsqr is CommonJS whose types declare an ES default export: at run time the default import is the function.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

beforeAll(async () => {
  const blue = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#1040c0' } }).jpeg().toBuffer();
  const big = Buffer.alloc(6 * 1024 * 1024, 1);
  server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    if (req.url?.startsWith('/blue')) return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(blue);
    if (req.url === '/to-blue') return res.writeHead(302, { location: '/blue.jpg' }).end();
    if (req.url === '/to-loop') return res.writeHead(302, { location: '/to-loop' }).end();
    if (req.url === '/big') return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(big);
    if (req.url === '/text') return res.writeHead(200, { 'content-type': 'text/plain' }).end('not an image');
    if (req.url === '/slow') return setTimeout(() => res.writeHead(200).end(blue), 10_000).unref();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  imageBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function poster(t: TenantFixture, body: Record<string, unknown>, path = '/api/v1/qrcode/generate', key = t.service) {
  const app = (await testApp()).app;
  const res = await app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { status: res.statusCode, type: String(res.headers['content-type']), raw: res.rawPayload, json: () => JSON.parse(res.body) };
}

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const found = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
  return { url: found?.data ?? null, width: info.width, height: info.height };
}

async function pixel(png: Buffer, x: number, y: number) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('referral poster', () => {
  it('answers a 750 x 1334 PNG whose QR code is the landing URL with u_id and c_id, on both paths', async () => {
    const t = await (await testApp()).newTenant();
    const campaign = await newCampaign(t, { campaign_name: 'Summer camp 2026' });
    const id = campaign.campaign_id as string;
    const res = await poster(t, { campaign_id: id, user_id: 'ref-42', user_name: '张三 Zhang', channel_id: 'wechat_group' });
    expect(res.status).toBe(200);
    expect(res.type).toBe('image/png');
    expect(res.raw.subarray(1, 4).toString()).toBe('PNG');
    const qr = await decode(res.raw);
    expect([qr.width, qr.height]).toEqual([750, 1334]);
    expect(qr.url).toBe(`${PUBLIC_URL}/p/${id}?u_id=ref-42&c_id=wechat_group`);

    // Without a channel, without a name; ids that need encoding come back exactly; /v1/posters is the same call.
    const other = await poster(t, { campaign_id: id, user_id: 'u1&x=2/ü', title: 'Bring a friend' }, '/v1/posters', t.readonly);
    expect(other.status).toBe(200);
    const url = (await decode(other.raw)).url!;
    expect(url).toBe(`${PUBLIC_URL}/p/${id}?u_id=u1%26x%3D2%2F%C3%BC`);
    expect(new URL(url).searchParams.get('u_id')).toBe('u1&x=2/ü');
    expect(url).toBe(landingUrl(`${PUBLIC_URL}/`, id, 'u1&x=2/ü'));
  });

  it('puts the campaign image on top, a colour block when there is none or it cannot be had', async () => {
    const t = await (await testApp()).newTenant();
    const id = (await newCampaign(t)).campaign_id as string;
    const withImage = await poster(t, { campaign_id: id, user_id: 'r1', image_url: `${imageBase}/blue.jpg` });
    expect(withImage.status).toBe(200);
    const [r, g, b] = await pixel(withImage.raw, 375, 375);
    expect(Math.abs(r! - 0x10) + Math.abs(g! - 0x40) + Math.abs(b! - 0xc0)).toBeLessThan(30);
    const placeholder = await pixel((await poster(t, { campaign_id: id, user_id: 'r1' })).raw, 375, 375);
    for (const path of ['/missing', '/text', '/big']) {
      const res = await poster(t, { campaign_id: id, user_id: 'r1', image_url: `${imageBase}${path}` });
      expect(res.status, path).toBe(200);
      expect(await pixel(res.raw, 375, 375), path).toEqual(placeholder);
      expect((await decode(res.raw)).url, path).toBe(`${PUBLIC_URL}/p/${id}?u_id=r1`);
    }
    // The image from the campaign's metadata when the request names none.
    const fromMetadata = (await newCampaign(t, { metadata: { image_url: `${imageBase}/blue-meta.jpg` } })).campaign_id as string;
    const meta = await poster(t, { campaign_id: fromMetadata, user_id: 'r1' });
    expect((await pixel(meta.raw, 10, 10))[2]).toBeGreaterThan(150);
  });

  it('keeps a rendered poster for a while: the same request again is the same bytes without a new fetch', async () => {
    const t = await (await testApp()).newTenant();
    const id = (await newCampaign(t)).campaign_id as string;
    const image = `${imageBase}/blue-cache.jpg?${id}`;
    const body = { campaign_id: id, user_id: 'r9', channel_id: 'c1', image_url: image };
    const replies = await Promise.all([poster(t, body), poster(t, body), poster(t, body)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.every((r) => r.raw.equals(replies[0]!.raw))).toBe(true);
    expect(hits.get(`/blue-cache.jpg?${id}`)).toBe(1);
    // Another channel is another poster.
    const other = await poster(t, { ...body, channel_id: 'c2' });
    expect((await decode(other.raw)).url).toBe(`${PUBLIC_URL}/p/${id}?u_id=r9&c_id=c2`);
  });

  it('refuses an unknown campaign, another tenant\'s, and bad input with stable codes', async () => {
    const t = await (await testApp()).newTenant();
    const other = await (await testApp()).newTenant();
    const theirs = (await newCampaign(other)).campaign_id as string;
    const unknown = await poster(t, { campaign_id: 'cmp_nope', user_id: 'r1' });
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('campaign_not_found');
    const foreign = await poster(t, { campaign_id: theirs, user_id: 'r1' });
    expect(foreign.status).toBe(404);
    expect(foreign.json().error.code).toBe('campaign_not_found');
    const mine = (await newCampaign(t)).campaign_id as string;
    for (const body of [
      { user_id: 'r1' },
      { campaign_id: mine },
      { campaign_id: mine, user_id: '' },
      { campaign_id: mine, user_id: 'has space' },
      { campaign_id: mine, user_id: 'r1', image_url: 'file:///etc/passwd' },
      { campaign_id: mine, user_id: 'r1', title: 'x'.repeat(81) },
      { campaign_id: mine, user_id: 'r1', user_name: 'a\nb' },
      { campaign_id: mine, user_id: 'r1', extra: 1 },
    ]) {
      const res = await poster(t, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code, JSON.stringify(body)).toBe('invalid_request');
    }
    expect((await poster(t, { campaign_id: mine, user_id: 'r1' }, '/v1/posters', '')).status).toBe(401);
  });
});

describe('campaign image fetch', () => {
  it('keeps to the size and time limits and, by default, away from private addresses', async () => {
    const open = { maxBytes: 1024 * 1024, timeoutMs: 300, allowPrivateNetworks: true };
    expect((await fetchImage(`${imageBase}/blue.jpg`, open))?.length).toBeGreaterThan(100);
    expect(await fetchImage(`${imageBase}/big`, open)).toBeNull();
    const started = Date.now();
    expect(await fetchImage(`${imageBase}/slow`, open)).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await fetchImage(`${imageBase}/blue.jpg`, { ...open, allowPrivateNetworks: false })).toBeNull();
    expect(await fetchImage('http://169.254.169.254/latest/meta-data', { ...open, allowPrivateNetworks: false })).toBeNull();
    // A redirect is followed only to where the first URL could go: a private address stays refused.
    expect((await fetchImage(`${imageBase}/to-blue`, open))?.length).toBeGreaterThan(100);
    expect(await fetchImage(`${imageBase}/to-loop`, open)).toBeNull();
  });
});
