import type { Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import { visibility } from './grant.context.js';
import * as repo from './grant.repo.js';
import type { GrantListInput, GrantView } from './grant.schemas.js';

/** Reading grants: one by id, or a filtered page, as the API shows them. */

export function toGrantView(row: repo.GrantRow): GrantView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    grant_id: row.grant_id,
    tenant_id: row.tenant_id,
    reward_id: row.reward_id,
    reward_type: row.reward_type,
    product_code: row.product_code,
    campaign_id: row.campaign_id,
    user_id: row.user_id,
    quantity: row.quantity,
    source: row.source,
    source_id: row.source_id,
    status: row.status,
    distributor: row.distributor,
    payload: (row.payload as Record<string, unknown>) ?? {},
    delivery: {
      status: row.delivery_status,
      attempts: row.delivery_attempts,
      last_error: row.delivery_last_error,
      delivered_at: iso(row.delivered_at),
    },
    used_at: iso(row.used_at),
    revoked_at: iso(row.revoked_at),
    revoke_reason: row.revoke_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function getGrant(actor: Actor, grantId: string, exec: Executor): Promise<GrantView> {
  const row = await repo.findGrant(exec, visibility(requireTenant(actor)), grantId);
  if (!row) throw notFound('grant', grantId);
  return toGrantView(row);
}

export async function listGrants(actor: Actor, query: GrantListInput, exec: Executor) {
  const tenant = requireTenant(actor);
  const page = toPage(query);
  const { rows, total } = await repo.listGrants(
    exec,
    visibility(tenant),
    {
      ...(query.reward_id && { rewardId: query.reward_id }),
      ...(query.campaign_id && { campaignId: query.campaign_id }),
      ...(query.user_id && { userId: query.user_id }),
      ...(query.status && { status: query.status }),
      from: parseInstant('created_from', query.created_from),
      to: parseInstant('created_to', query.created_to),
    },
    page,
  );
  return { grants: rows.map(toGrantView), pagination: pagination(total, page) };
}
