import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { CAMPAIGN_STATUSES, type CampaignAction, type CampaignStatus } from './campaign.status.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

interface Ctx {
  app: TestApp;
  clock: ManualClock;
  t: TenantFixture;
}

/** Runs `fn` on an app whose clock starts at T0 and only moves by hand; always closes the app. */
async function withClock(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const clock = new ManualClock(new Date(T0));
  const app = await testApp({ clock });
  try {
    await fn({ app, clock, t: await app.newTenant() });
  } finally {
    await app.app.close();
  }
}

const act = (t: TenantFixture, id: string, action: CampaignAction) => t.call('POST', `/v1/campaigns/${id}/${action}`);
const get = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/campaigns/${id}`), 200).body;

/** Asserts the campaign shows `status` on GET and that the list's status filter puts it there and nowhere else. */
async function expectStatus(t: TenantFixture, id: string, status: CampaignStatus) {
  expect((await get(t, id)).status).toBe(status);
  for (const s of CAMPAIGN_STATUSES) {
    const r = must(await t.call('GET', '/v1/campaigns', undefined, { query: { status: s, page_size: 500 } }), 200);
    const listed = (r.body.campaigns as { campaign_id: string; status: string }[]).find((c) => c.campaign_id === id);
    expect(Boolean(listed), `status filter ${s} for a campaign that is ${status}`).toBe(s === status);
    if (listed) expect(listed.status).toBe(status);
  }
}

type Setup = 'DRAFT' | 'SCHEDULED' | 'ACTIVE' | 'PAUSED' | 'ENDED' | 'ENDED_WHILE_PAUSED' | 'ARCHIVED';

/** A campaign brought into a status by real API calls (and, for ENDED, by moving the clock). */
async function campaignIn(ctx: Ctx, setup: Setup): Promise<{ campaign_id: string; version: number }> {
  const { t, clock } = ctx;
  const now = clock.now().getTime();
  const windows: Record<Setup, [number | null, number | null]> = {
    DRAFT: [now + HOUR, now + 2 * HOUR],
    SCHEDULED: [now + HOUR, now + 2 * HOUR],
    ACTIVE: [now - HOUR, now + 2 * HOUR],
    PAUSED: [now - HOUR, now + 2 * HOUR],
    ENDED: [now - HOUR, now + MINUTE],
    ENDED_WHILE_PAUSED: [now - HOUR, now + MINUTE],
    ARCHIVED: [now + HOUR, now + 2 * HOUR],
  };
  const [start, end] = windows[setup];
  const c = await newCampaign(t, { start_time: start === null ? null : iso(start), end_time: end === null ? null : iso(end) });
  const id = c.campaign_id as string;
  if (setup !== 'DRAFT' && setup !== 'ARCHIVED') must(await act(t, id, 'publish'), 200);
  if (setup === 'PAUSED' || setup === 'ENDED_WHILE_PAUSED') must(await act(t, id, 'pause'), 200);
  if (setup === 'ARCHIVED') must(await act(t, id, 'archive'), 200);
  if (setup === 'ENDED' || setup === 'ENDED_WHILE_PAUSED') clock.advance(MINUTE);
  const current = await get(t, id);
  expect(current.status).toBe(setup === 'ENDED_WHILE_PAUSED' ? 'ENDED' : setup);
  return { campaign_id: id, version: current.version };
}

describe('campaign lifecycle (derived status, injected clock)', () => {
  it('publishes a future campaign as SCHEDULED, turns ACTIVE at start_time and ENDED at end_time with no job', () =>
    withClock(async ({ t, clock }) => {
      const start = T0 + HOUR;
      const end = T0 + 2 * HOUR;
      const c = await newCampaign(t, { start_time: iso(start), end_time: iso(end) });
      await expectStatus(t, c.campaign_id, 'DRAFT');

      const published = must(await act(t, c.campaign_id, 'publish'), 200).body;
      expect(published).toMatchObject({ status: 'SCHEDULED', published_at: iso(T0), updated_at: iso(T0), version: 2 });
      await expectStatus(t, c.campaign_id, 'SCHEDULED');

      clock.set(new Date(start - 1));
      await expectStatus(t, c.campaign_id, 'SCHEDULED');
      clock.set(new Date(start));
      await expectStatus(t, c.campaign_id, 'ACTIVE');
      clock.set(new Date(end - 1));
      await expectStatus(t, c.campaign_id, 'ACTIVE');
      clock.set(new Date(end));
      await expectStatus(t, c.campaign_id, 'ENDED');
      clock.advance(365 * 24 * HOUR);
      await expectStatus(t, c.campaign_id, 'ENDED');

      // Only people change the row: time passing did not bump the version.
      const later = await get(t, c.campaign_id);
      expect(later).toMatchObject({ version: 2, updated_at: iso(T0), published_at: iso(T0) });
    }));

  it('publishes a campaign with no start_time as ACTIVE at once', () =>
    withClock(async ({ t }) => {
      const open = await newCampaign(t, { start_time: null, end_time: null });
      expect(must(await act(t, open.campaign_id, 'publish'), 200).body).toMatchObject({ status: 'ACTIVE', version: 2 });
      await expectStatus(t, open.campaign_id, 'ACTIVE');
      const withEnd = await newCampaign(t, { start_time: null, end_time: iso(T0 + HOUR) });
      expect(must(await act(t, withEnd.campaign_id, 'publish'), 200).body.status).toBe('ACTIVE');
      await expectStatus(t, withEnd.campaign_id, 'ACTIVE');
    }));

  it('publishes a campaign whose start_time has passed (or is now) as ACTIVE', () =>
    withClock(async ({ t }) => {
      const past = await newCampaign(t, { start_time: iso(T0 - HOUR), end_time: iso(T0 + HOUR) });
      expect(must(await act(t, past.campaign_id, 'publish'), 200).body.status).toBe('ACTIVE');
      const now = await newCampaign(t, { start_time: iso(T0), end_time: null });
      expect(must(await act(t, now.campaign_id, 'publish'), 200).body.status).toBe('ACTIVE');
    }));

  it('refuses to publish once end_time has passed: 409 campaign_window_passed, and it stays DRAFT', () =>
    withClock(async ({ t, clock }) => {
      const c = await newCampaign(t, { start_time: iso(T0 - 2 * HOUR), end_time: iso(T0 + HOUR) });
      clock.set(new Date(T0 + 2 * HOUR));
      const r = await act(t, c.campaign_id, 'publish');
      expectError(r, 409, 'campaign_window_passed', { end_time: iso(T0 + HOUR) });
      expect(await get(t, c.campaign_id)).toMatchObject({ status: 'DRAFT', version: 1, published_at: null });
      await expectStatus(t, c.campaign_id, 'DRAFT');
      // end_time exactly now has passed too (the window is [start, end)).
      const edge = await newCampaign(t, { start_time: null, end_time: iso(T0 + 3 * HOUR) });
      clock.set(new Date(T0 + 3 * HOUR));
      expectError(await act(t, edge.campaign_id, 'publish'), 409, 'campaign_window_passed');
      // Moving end_time forward makes it publishable again.
      must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { end_time: iso(T0 + 4 * HOUR) }), 200);
      expect(must(await act(t, c.campaign_id, 'publish'), 200).body.status).toBe('ACTIVE');
    }));

  it('pauses an ACTIVE campaign and resumes it back to ACTIVE', () =>
    withClock(async (ctx) => {
      const { t, clock } = ctx;
      const c = await campaignIn(ctx, 'ACTIVE');
      clock.advance(MINUTE);
      const paused = must(await act(t, c.campaign_id, 'pause'), 200).body;
      expect(paused).toMatchObject({ status: 'PAUSED', paused_at: iso(T0 + MINUTE), version: c.version + 1 });
      await expectStatus(t, c.campaign_id, 'PAUSED');
      clock.advance(MINUTE);
      const resumed = must(await act(t, c.campaign_id, 'resume'), 200).body;
      expect(resumed).toMatchObject({ status: 'ACTIVE', paused_at: null, version: c.version + 2 });
      await expectStatus(t, c.campaign_id, 'ACTIVE');
    }));

  it('pauses a SCHEDULED campaign; resume goes back to SCHEDULED or ACTIVE by the time', () =>
    withClock(async (ctx) => {
      const { t, clock } = ctx;
      const c = await campaignIn(ctx, 'SCHEDULED'); // start T0+1h, end T0+2h
      expect(must(await act(t, c.campaign_id, 'pause'), 200).body.status).toBe('PAUSED');
      clock.set(new Date(T0 + 30 * MINUTE));
      await expectStatus(t, c.campaign_id, 'PAUSED');
      expect(must(await act(t, c.campaign_id, 'resume'), 200).body.status).toBe('SCHEDULED');
      await expectStatus(t, c.campaign_id, 'SCHEDULED');

      must(await act(t, c.campaign_id, 'pause'), 200);
      // Still PAUSED after start_time comes: a pause holds whatever the window says.
      clock.set(new Date(T0 + 90 * MINUTE));
      await expectStatus(t, c.campaign_id, 'PAUSED');
      expect(must(await act(t, c.campaign_id, 'resume'), 200).body.status).toBe('ACTIVE');
      await expectStatus(t, c.campaign_id, 'ACTIVE');
      expect((await get(t, c.campaign_id)).version).toBe(c.version + 4);
    }));

  it('shows a PAUSED campaign whose end_time has passed as ENDED', () =>
    withClock(async (ctx) => {
      const { t, clock } = ctx;
      const c = await campaignIn(ctx, 'PAUSED'); // ends T0+2h
      clock.set(new Date(T0 + 2 * HOUR - 1));
      await expectStatus(t, c.campaign_id, 'PAUSED');
      clock.set(new Date(T0 + 2 * HOUR));
      await expectStatus(t, c.campaign_id, 'ENDED');
      expect((await get(t, c.campaign_id)).paused_at).toBe(iso(T0));
    }));

  it.each<Setup>(['DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ENDED', 'ENDED_WHILE_PAUSED'])('archives a campaign that is %s', (setup) =>
    withClock(async (ctx) => {
      const { t, clock } = ctx;
      const c = await campaignIn(ctx, setup);
      const archived = must(await act(t, c.campaign_id, 'archive'), 200).body;
      expect(archived).toMatchObject({ status: 'ARCHIVED', archived_at: clock.now().toISOString(), version: c.version + 1 });
      await expectStatus(t, c.campaign_id, 'ARCHIVED');
      // Archived is final: time does not move it.
      clock.advance(10 * 365 * 24 * HOUR);
      await expectStatus(t, c.campaign_id, 'ARCHIVED');
    }),
  );

  const illegal: [Setup, CampaignAction, CampaignStatus][] = [
    ['DRAFT', 'pause', 'DRAFT'],
    ['DRAFT', 'resume', 'DRAFT'],
    ['SCHEDULED', 'publish', 'SCHEDULED'],
    ['SCHEDULED', 'resume', 'SCHEDULED'],
    ['ACTIVE', 'publish', 'ACTIVE'],
    ['ACTIVE', 'resume', 'ACTIVE'],
    ['PAUSED', 'publish', 'PAUSED'],
    ['PAUSED', 'pause', 'PAUSED'],
    ['ENDED', 'publish', 'ENDED'],
    ['ENDED', 'pause', 'ENDED'],
    ['ENDED', 'resume', 'ENDED'],
    ['ENDED_WHILE_PAUSED', 'publish', 'ENDED'],
    ['ENDED_WHILE_PAUSED', 'pause', 'ENDED'],
    ['ENDED_WHILE_PAUSED', 'resume', 'ENDED'],
    ['ARCHIVED', 'publish', 'ARCHIVED'],
    ['ARCHIVED', 'pause', 'ARCHIVED'],
    ['ARCHIVED', 'resume', 'ARCHIVED'],
    ['ARCHIVED', 'archive', 'ARCHIVED'],
  ];

  it.each(illegal)('refuses, for a campaign set up %s, to %s: 409 invalid_campaign_transition', (setup, action, status) =>
    withClock(async (ctx) => {
      const { t } = ctx;
      const c = await campaignIn(ctx, setup);
      const before = await get(t, c.campaign_id);
      const r = await act(t, c.campaign_id, action);
      expectError(r, 409, 'invalid_campaign_transition', { status, action });
      expect(await get(t, c.campaign_id)).toEqual(before);
    }),
  );

  it('refuses to publish twice and to archive twice: 409 invalid_campaign_transition', () =>
    withClock(async ({ t }) => {
      const c = await newCampaign(t, { start_time: null, end_time: null });
      must(await act(t, c.campaign_id, 'publish'), 200);
      expectError(await act(t, c.campaign_id, 'publish'), 409, 'invalid_campaign_transition', { status: 'ACTIVE', action: 'publish' });
      must(await act(t, c.campaign_id, 'archive'), 200);
      expectError(await act(t, c.campaign_id, 'archive'), 409, 'invalid_campaign_transition', { status: 'ARCHIVED', action: 'archive' });
      expect((await get(t, c.campaign_id)).version).toBe(3);
    }));

  it('refuses changes to an ENDED campaign: 409 campaign_not_editable; and deleting it: 409 campaign_not_deletable', () =>
    withClock(async (ctx) => {
      const { t } = ctx;
      const c = await campaignIn(ctx, 'ENDED');
      const before = await get(t, c.campaign_id);
      expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { end_time: iso(T0 + 100 * HOUR) }), 409, 'campaign_not_editable', {
        status: 'ENDED',
      });
      expectError(await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`), 409, 'campaign_not_deletable', { status: 'ENDED' });
      expect(await get(t, c.campaign_id)).toEqual(before);
    }));

  it('answers 404 campaign_not_found for an action on an id that does not exist', () =>
    withClock(async ({ t }) => {
      for (const action of ['publish', 'pause', 'resume', 'archive'] as const) {
        expectError(await act(t, 'cmp_00000000000000000000000000', action), 404, 'campaign_not_found');
      }
    }));
});

describe('campaign lifecycle under concurrency', () => {
  it('200 parallel pauses of one ACTIVE campaign: exactly one 200, 199 409s, version up by exactly one', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t, { start_time: null, end_time: null });
    const active = must(await act(t, c.campaign_id, 'publish'), 200).body;
    const replies = await Promise.all(Array.from({ length: 200 }, () => act(t, c.campaign_id, 'pause')));
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 409);
    expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 1, refused: 199 });
    for (const r of refused) expectError(r, 409, 'invalid_campaign_transition', { status: 'PAUSED', action: 'pause' });
    expect(ok[0]!.body).toMatchObject({ status: 'PAUSED', version: active.version + 1 });
    expect(await get(t, c.campaign_id)).toMatchObject({ status: 'PAUSED', version: active.version + 1 });
  });

  it('100 parallel mixed publish calls on one DRAFT: exactly one 200', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t, { start_time: null, end_time: null });
    // Service and admin keys, with and without distinct Idempotency-Keys, with and without a body.
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, i % 3 === 0 ? {} : undefined, {
          key: i % 2 === 0 ? t.service : t.admin,
          ...(i % 4 < 2 ? { headers: { 'idempotency-key': `publish-${i}` } } : {}),
        }),
      ),
    );
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 409);
    expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 1, refused: 99 });
    for (const r of refused) expectError(r, 409, 'invalid_campaign_transition', { status: 'ACTIVE', action: 'publish' });
    expect(await get(t, c.campaign_id)).toMatchObject({ status: 'ACTIVE', version: 2, published_at: ok[0]!.body.published_at });
  });
});
