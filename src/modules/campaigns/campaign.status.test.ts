import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import {
  CAMPAIGN_STATUSES,
  type CampaignStatus,
  campaignStatus,
  isCampaignActive,
  statusCondition,
  transitionCondition,
  transitions,
} from './campaign.status.js';
import type { CampaignLifecycleState } from './campaign.tables.js';

const NOW = Date.parse('2030-06-01T12:00:00Z');
const at = (offsetMs: number | null) => (offsetMs === null ? null : new Date(NOW + offsetMs));
const HOUR = 3600_000;

/** Window positions relative to NOW: [label, start offset, end offset] (null = no bound). */
const windows: [string, number | null, number | null][] = [
  ['no start, no end', null, null],
  ['no start, end future', null, HOUR],
  ['no start, end now', null, 0],
  ['no start, end past', null, -HOUR],
  ['start past, no end', -HOUR, null],
  ['start now, no end', 0, null],
  ['start future, no end', HOUR, null],
  ['start past, end future', -HOUR, HOUR],
  ['start now, end future', 0, HOUR],
  ['start past, end now', -2 * HOUR, 0],
  ['start past, end past', -2 * HOUR, -HOUR],
  ['start future, end future', HOUR, 2 * HOUR],
  ['start 1 ms ahead, end future', 1, HOUR],
  ['start past, end 1 ms ahead', -HOUR, 1],
];

/** What each window shows once published (PUBLISHED) or paused (PAUSED). */
const expectedPublished: Record<string, CampaignStatus> = {
  'no start, no end': 'ACTIVE',
  'no start, end future': 'ACTIVE',
  'no start, end now': 'ENDED',
  'no start, end past': 'ENDED',
  'start past, no end': 'ACTIVE',
  'start now, no end': 'ACTIVE',
  'start future, no end': 'SCHEDULED',
  'start past, end future': 'ACTIVE',
  'start now, end future': 'ACTIVE',
  'start past, end now': 'ENDED',
  'start past, end past': 'ENDED',
  'start future, end future': 'SCHEDULED',
  'start 1 ms ahead, end future': 'SCHEDULED',
  'start past, end 1 ms ahead': 'ACTIVE',
};
const expectedFor = (state: CampaignLifecycleState, label: string): CampaignStatus => {
  if (state === 'DRAFT' || state === 'ARCHIVED') return state;
  const published = expectedPublished[label]!;
  if (state === 'PAUSED') return published === 'ENDED' ? 'ENDED' : 'PAUSED';
  return published;
};

const STATES: CampaignLifecycleState[] = ['DRAFT', 'PUBLISHED', 'PAUSED', 'ARCHIVED'];
const grid = STATES.flatMap((state) => windows.map(([label, start, end]) => [state, label, start, end, expectedFor(state, label)] as const));

describe('campaignStatus()', () => {
  it.each(grid)('%s with %s is %s', (state, _label, start, end, expected) => {
    const status = campaignStatus({ lifecycle_state: state, start_time: at(start), end_time: at(end) }, new Date(NOW));
    expect(status).toBe(expected);
    expect(isCampaignActive({ lifecycle_state: state, start_time: at(start), end_time: at(end) }, new Date(NOW))).toBe(expected === 'ACTIVE');
  });

  it('a PUBLISHED campaign goes SCHEDULED -> ACTIVE at start_time -> ENDED at end_time, to the millisecond', () => {
    const c = { lifecycle_state: 'PUBLISHED' as const, start_time: new Date(NOW), end_time: new Date(NOW + HOUR) };
    expect(campaignStatus(c, new Date(NOW - 1))).toBe('SCHEDULED');
    expect(campaignStatus(c, new Date(NOW))).toBe('ACTIVE');
    expect(campaignStatus(c, new Date(NOW + HOUR - 1))).toBe('ACTIVE');
    expect(campaignStatus(c, new Date(NOW + HOUR))).toBe('ENDED');
  });

  it('every lifecycle action is allowed from a non-empty set of statuses, and archive from all but ARCHIVED', () => {
    expect(transitions.publish.from).toEqual(['DRAFT']);
    expect([...transitions.pause.from].sort()).toEqual(['ACTIVE', 'SCHEDULED']);
    expect(transitions.resume.from).toEqual(['PAUSED']);
    expect([...transitions.archive.from].sort()).toEqual(CAMPAIGN_STATUSES.filter((s) => s !== 'ARCHIVED').sort());
  });
});

describe('statusCondition (SQL) agrees with campaignStatus()', () => {
  it('for a grid of windows x lifecycle states, at every instant around the window edges', async () => {
    const T0 = Date.parse('2030-01-01T00:00:00Z');
    const A = T0 + HOUR;
    const B = T0 + 2 * HOUR;
    const C = T0 + 3 * HOUR;
    const clock = new ManualClock(new Date(T0));
    const app = await testApp({ clock });
    try {
      const t = await app.newTenant();
      // Every window with bounds in {none, A, B, C} and end > start; all of them still open at T0.
      const bounds = [null, A, B, C];
      const windowsAt = bounds.flatMap((start) =>
        bounds.filter((end) => start === null || end === null || end > start).map((end) => [start, end] as const),
      );
      expect(windowsAt).toHaveLength(10);

      interface Made {
        id: string;
        state: CampaignLifecycleState;
        start: Date | null;
        end: Date | null;
      }
      const made: Made[] = [];
      for (const state of STATES) {
        for (const [start, end] of windowsAt) {
          const c = await newCampaign(t, {
            campaign_name: `${state} ${start} ${end}`,
            start_time: start === null ? null : new Date(start).toISOString(),
            end_time: end === null ? null : new Date(end).toISOString(),
          });
          const id = c.campaign_id as string;
          if (state === 'PUBLISHED' || state === 'PAUSED') must(await t.call('POST', `/v1/campaigns/${id}/publish`), 200);
          if (state === 'PAUSED') must(await t.call('POST', `/v1/campaigns/${id}/pause`), 200);
          if (state === 'ARCHIVED') must(await t.call('POST', `/v1/campaigns/${id}/archive`), 200);
          made.push({ id, state, start: start === null ? null : new Date(start), end: end === null ? null : new Date(end) });
        }
      }

      const instants = [T0, A - 1, A, A + 1, (A + B) / 2, B - 1, B, B + 1, C - 1, C, C + 1, C + 24 * HOUR];
      const seen = new Set<CampaignStatus>();
      for (const instant of instants) {
        const now = new Date(instant);
        clock.set(now);
        const expected = (status: CampaignStatus) =>
          made
            .filter((m) => campaignStatus({ lifecycle_state: m.state, start_time: m.start, end_time: m.end }, now) === status)
            .map((m) => m.id)
            .sort();

        // What the API shows for each campaign.
        const all = must(await t.call('GET', '/v1/campaigns', undefined, { query: { page_size: 500 } }), 200).body;
        expect(all.pagination.total).toBe(made.length);
        for (const m of made) {
          const shown = all.campaigns.find((c: { campaign_id: string }) => c.campaign_id === m.id);
          expect(shown.status, `${m.state} ${m.start?.toISOString()} ${m.end?.toISOString()} at ${now.toISOString()}`).toBe(
            campaignStatus({ lifecycle_state: m.state, start_time: m.start, end_time: m.end }, now),
          );
        }

        let covered = 0;
        for (const status of CAMPAIGN_STATUSES) {
          const want = expected(status);
          if (want.length) seen.add(status);
          covered += want.length;
          // Through the list filter...
          const r = must(await t.call('GET', '/v1/campaigns', undefined, { query: { status, page_size: 500 } }), 200).body;
          const got = (r.campaigns as { campaign_id: string }[]).map((c) => c.campaign_id).sort();
          expect(got, `status=${status} at ${now.toISOString()}`).toEqual(want);
          expect(r.pagination.total).toBe(want.length);
          // ...and straight through the SQL condition.
          const rows = await app.database.db
            .selectFrom('campaign')
            .select('campaign_id')
            .where('tenant_id', '=', t.tenantId)
            .where((eb) => statusCondition(eb, status, now))
            .execute();
          expect(rows.map((row) => row.campaign_id).sort(), `statusCondition ${status} at ${now.toISOString()}`).toEqual(want);
        }
        // Every campaign is in exactly one status.
        expect(covered).toBe(made.length);

        // The guard of each action selects exactly the campaigns whose status allows it; publish
        // additionally needs a window that is not over yet.
        const windowOpen = new Set(made.filter((m) => m.end === null || m.end.getTime() > now.getTime()).map((m) => m.id));
        for (const action of ['publish', 'pause', 'resume', 'archive'] as const) {
          const rows = await app.database.db
            .selectFrom('campaign')
            .select('campaign_id')
            .where('tenant_id', '=', t.tenantId)
            .where((eb) => transitionCondition(eb, action, now))
            .execute();
          const allowed = transitions[action].from
            .flatMap((s) => expected(s))
            .filter((id) => action !== 'publish' || windowOpen.has(id))
            .sort();
          expect(rows.map((row) => row.campaign_id).sort(), `${action} at ${now.toISOString()}`).toEqual(allowed);
        }
      }
      expect([...seen].sort()).toEqual([...CAMPAIGN_STATUSES].sort());
    } finally {
      await app.app.close();
    }
  });
});
