import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';

async function upload(a: TestApp, key: string, body: Buffer, type: string) {
  const res = await a.app.inject({ method: 'POST', url: '/v1/media', headers: { authorization: `Bearer ${key}`, 'content-type': type }, payload: body });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

/** A JPEG carrying EXIF (camera, GPS-like comment) and an orientation of 6 (rotate 90). */
async function jpegWithMetadata(): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 20, channels: 3, background: '#2080f0' } })
    .jpeg()
    .withMetadata({ orientation: 6, exif: { IFD0: { Make: 'SecretCam', Copyright: 'GPS 31.2304N 121.4737E' } } })
    .toBuffer();
}

describe('media', () => {
  it('stores an upload without its metadata, by content hash, once; serves it publicly with a year of cache and an ETag', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const original = await jpegWithMetadata();
    expect(original.includes(Buffer.from('SecretCam'))).toBe(true);
    const first = await upload(a, t.admin, original, 'image/jpeg');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    // Orientation 6 applied: 40 x 20 becomes 20 x 40.
    expect(first.body).toMatchObject({ media_id: expect.stringMatching(/^[0-9a-f]{64}$/), content_type: 'image/jpeg', width: 20, height: 40 });
    expect(first.body.url).toBe(`/media/${first.body.media_id}.jpg`);
    const again = await upload(a, t.admin, original, 'image/jpeg');
    expect(again.body).toEqual(first.body);
    const rows = await a.database.db.selectFrom('media' as never).selectAll().where('media_id' as never, '=', first.body.media_id as never).execute();
    expect(rows).toHaveLength(1);

    const served = await a.app.inject({ method: 'GET', url: first.body.url });
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-type']).toBe('image/jpeg');
    expect(served.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(served.headers.etag).toBe(`"${first.body.media_id}"`);
    expect(served.rawPayload.length).toBe(first.body.bytes);
    expect(served.rawPayload.includes(Buffer.from('SecretCam'))).toBe(false);
    expect((await sharp(served.rawPayload).metadata()).exif).toBeUndefined();
    const cached = await a.app.inject({ method: 'GET', url: first.body.url, headers: { 'if-none-match': `"${first.body.media_id}"` } });
    expect(cached.statusCode).toBe(304);
    // Another extension, an unknown id, a malformed name: 404 / 400.
    expect((await a.app.inject({ method: 'GET', url: `/media/${first.body.media_id}.png` })).statusCode).toBe(404);
    expect(JSON.parse((await a.app.inject({ method: 'GET', url: `/media/${'0'.repeat(64)}.png` })).body).error.code).toBe('media_not_found');
    expect((await a.app.inject({ method: 'GET', url: '/media/..%2Fsecret.key' })).statusCode).toBe(400);

    // PNG, WebP and GIF keep their format; the listing is the tenant's own.
    const png = await upload(a, t.admin, await sharp({ create: { width: 8, height: 6, channels: 4, background: '#ff000080' } }).png().toBuffer(), 'image/png');
    expect(png.body).toMatchObject({ content_type: 'image/png', width: 8, height: 6 });
    const webp = await upload(a, t.admin, await sharp({ create: { width: 5, height: 5, channels: 3, background: '#00ff00' } }).webp().toBuffer(), 'image/webp');
    expect(webp.body).toMatchObject({ content_type: 'image/webp', url: expect.stringMatching(/\.webp$/) });
    const frames = await sharp({ create: { width: 6, height: 12, channels: 4, background: '#0000ff' } }).gif().toBuffer();
    const gif = await upload(a, t.admin, frames, 'image/gif');
    expect(gif.body).toMatchObject({ content_type: 'image/gif', width: 6 });
    const list = must(await t.call('GET', '/v1/media'), 200).body;
    expect(list.pagination.total).toBe(4);
    expect(list.media.map((m: { media_id: string }) => m.media_id)).toContain(first.body.media_id);
    const other = await a.newTenant();
    expect(must(await other.call('GET', '/v1/media'), 200).body.pagination.total).toBe(0);
    // The same image uploaded by another tenant: the same id, still one row, now in both listings.
    expect((await upload(a, other.admin, original, 'image/jpeg')).body.media_id).toBe(first.body.media_id);
    expect(must(await other.call('GET', '/v1/media'), 200).body.pagination.total).toBe(1);
  });

  it('100 parallel uploads of the same new image: one row, one owner row, the same answer for all', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const image = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: Date.now() % 256, g: 7, b: 99 } } }).png().toBuffer();
    const replies = await Promise.all(Array.from({ length: 100 }, () => upload(a, t.admin, image, 'image/png')));
    expect(replies.map((r) => r.status)).toEqual(Array(100).fill(201));
    expect(new Set(replies.map((r) => r.body.media_id)).size).toBe(1);
    const id = replies[0]!.body.media_id as string;
    expect(await a.database.db.selectFrom('media' as never).selectAll().where('media_id' as never, '=', id as never).execute()).toHaveLength(1);
    expect(await a.database.db.selectFrom('media_owner' as never).selectAll().where('media_id' as never, '=', id as never).execute()).toHaveLength(1);
  });

  it('refuses what is not an image, another type, a body over the limit, and keys below admin', async () => {
    const a = await testApp();
    const t: TenantFixture = await a.newTenant();
    const notImage = await upload(a, t.admin, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'image/png');
    expect(notImage.status).toBe(400);
    expect(notImage.body.error.code).toBe('media_invalid');
    const garbage = await upload(a, t.admin, Buffer.from('GIF89a but not really'), 'image/gif');
    expect(garbage.body.error.code).toBe('media_invalid');
    const truncated = (await sharp({ create: { width: 200, height: 200, channels: 3, background: '#123456' } }).png().toBuffer()).subarray(0, 60);
    expect((await upload(a, t.admin, truncated, 'image/png')).body.error.code).toBe('media_invalid');
    const json = await upload(a, t.admin, Buffer.from('{"a":1}'), 'application/json');
    expect(json.status).toBe(415);
    const big = await upload(a, t.admin, Buffer.alloc(2 * 1024 * 1024 + 1, 0), 'image/png');
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    expect((await upload(a, t.service, png, 'image/png')).status).toBe(403);
    expect((await upload(a, t.readonly, png, 'image/png')).status).toBe(403);
    const anonymous = await a.app.inject({ method: 'POST', url: '/v1/media', headers: { 'content-type': 'image/png' }, payload: png });
    expect(anonymous.statusCode).toBe(401);
    expect(must(await t.call('GET', '/v1/media'), 200).body.pagination.total).toBe(0);
  });
});
