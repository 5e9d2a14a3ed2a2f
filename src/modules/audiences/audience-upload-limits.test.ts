import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../platform/clock.js';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';
import { uploadMembers } from './audience.upload.js';

/** The upload with small limits, over the test database (a real one, not a stand-in). */
async function setUp(limits: { chunkSize: number; maxBytes: number }) {
  const app = await testApp();
  const t = await app.newTenant();
  const audienceId = must(await t.call('POST', '/v1/audiences', { audience_name: 'L', audience_type: 'LIST', product_code: t.productCode }), 201).body.audience_id as string;
  const deps = { db: app.database.db, clock: systemClock, ...limits };
  return { t, audienceId, deps, target: { tenantId: t.tenantId, audienceId } };
}

async function count(t: TenantFixture, audienceId: string): Promise<number> {
  return must(await t.call('GET', `/v1/audiences/${audienceId}/count`), 200).body.count;
}

describe('LIST audience upload: chunks and limits', () => {
  it('writes chunk by chunk and counts repeats across chunks as already members', async () => {
    const { deps, target, t, audienceId } = await setUp({ chunkSize: 2, maxBytes: 1 << 20 });
    const report = await uploadMembers(deps, target, 'csv', Readable.from(['a\nb\nc\na\n', 'd\nb\n']));
    expect(report).toMatchObject({ rows: 6, added: 4, already_members: 2, failed: 0 });
    expect(await count(t, audienceId)).toBe(4);
  });

  it('stops a body over the byte limit with 413, saying up to which row the ids are stored', async () => {
    const { deps, target, t, audienceId } = await setUp({ chunkSize: 100, maxBytes: 64 * 1024 });
    // Ids of 9 characters and a newline: 10 bytes a row, so the limit falls in row 6,554 (the
    // streams in between buffer about 16 KiB, so chunks before that are committed first).
    const body = Readable.from(Array.from({ length: 10_000 }, (_, i) => `id-${String(i).padStart(6, '0')}\n`));
    const err = await uploadMembers(deps, target, 'csv', body).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'payload_too_large', status: 413 });
    const progress = (err as { details: { progress: { stored_through_row: number; added: number } } }).details.progress;
    expect(progress.added).toBe(progress.stored_through_row);
    expect(progress.stored_through_row % 100).toBe(0);
    expect(progress.stored_through_row).toBeGreaterThan(0);
    expect(progress.stored_through_row).toBeLessThan(6554);
    expect(await count(t, audienceId)).toBe(progress.added);
  });

  it('answers 404 with its progress when the audience is deleted part way', async () => {
    const { deps, target, t, audienceId } = await setUp({ chunkSize: 2, maxBytes: 1 << 20 });
    const body = new PassThrough();
    const pending = uploadMembers(deps, target, 'ndjson', body).catch((e: unknown) => e);
    body.write('"a"\n"b"\n"c"\n');
    // The first chunk (a, b) is committed on its own.
    for (let i = 0; i < 100 && (await count(t, audienceId)) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    must(await t.call('DELETE', `/v1/audiences/${audienceId}`), 204);
    body.end('"d"\n');
    const err = await pending;
    expect(err).toMatchObject({ code: 'audience_not_found', status: 404, details: { progress: { stored_through_row: 2, added: 2, already_members: 0 } } });
  });
});
