/** What the referral pages share: money in fen, the tenant's referral campaigns, roles, tag colours. */
import { computed, ref } from 'vue';
import { api, ApiError, type ApiErrorBody, must, type paths } from '../../api';
import { currentLocale } from '../../i18n';
import { session } from '../../session';

export type TenantOrder = paths['/v1/referrals/orders']['get']['responses'][200]['content']['application/json']['orders'][number];
export type OrderDetail = paths['/v1/referrals/orders/{order_id}']['get']['responses'][200]['content']['application/json'];
export type OrderSync = paths['/v1/sync/status/{order_id}']['get']['responses'][200]['content']['application/json'];
export type SyncRecord = OrderSync['records'][number];

export const ORDER_STATUSES = ['pending', 'paid', 'refunded', 'cancelled'] as const;
export const PAY_STATUSES = ['unpaid', 'paying', 'paid', 'refunded'] as const;
export const WITHDRAWAL_STATUSES = ['pending', 'approved', 'rejected'] as const;
export const SYNC_STATUSES = ['failed', 'pending', 'synced', 'skipped'] as const;

/** Fen as yuan with two decimals, e.g. 9900 CNY -> ¥99.00. */
export function money(fen: number, currency = 'CNY'): string {
  const yuan = (fen / 100).toFixed(2);
  return currency === 'CNY' ? `¥${yuan}` : `${yuan} ${currency}`;
}

type TagType = 'default' | 'success' | 'warning' | 'error' | 'info';
const TAGS: Record<string, TagType> = {
  paid: 'success',
  synced: 'success',
  approved: 'success',
  settled: 'success',
  succeeded: 'success',
  pending: 'warning',
  paying: 'info',
  requested: 'info',
  failed: 'error',
  rejected: 'error',
  refunded: 'default',
  reversed: 'default',
  cancelled: 'default',
};
export const tagType = (status: string): TagType => TAGS[status] ?? 'default';

/** The signed-in operator may change things (viewers read only); admins alone decide money. */
export const canOperate = computed(() => session.operator?.role === 'admin' || session.operator?.role === 'operator');
export const isAdmin = computed(() => session.operator?.role === 'admin');

/** The tenant's referral campaigns (those with referral settings), newest first, as select options. */
export function useReferralCampaigns() {
  const options = ref<{ label: string; value: string }[]>([]);
  const error = ref<string | null>(null);
  async function load() {
    try {
      const data = await must(api.GET('/api/v1/campaigns', { params: { query: { page_size: 100 } } }));
      options.value = data.campaigns.map((c) => ({ label: c.name, value: c.id }));
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err);
    }
  }
  const nameOf = (id: string) => options.value.find((o) => o.value === id)?.label ?? id;
  return { options, error, load, nameOf };
}

/** A sync record as `GET /v1/sync/records` lists it (the same shape as an order's records). */
export interface SyncRecordList {
  records: SyncRecord[];
  pagination: { total: number; page: number; page_size: number };
}

/**
 * `GET /v1/sync/records`, called directly: the route is newer than the SDK's generated types this
 * console was built against (same headers as the API client: language, same-origin cookie).
 */
export async function listSyncRecords(query: { page: number; page_size: number; status?: string; kind?: string; target_id?: string }): Promise<SyncRecordList> {
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
  let response: Response;
  try {
    response = await fetch(`/v1/sync/records?${params}`, { credentials: 'same-origin', headers: { 'accept-language': currentLocale() } });
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  if (response.status === 401) session.expired();
  const body = (await response.json().catch(() => null)) as (SyncRecordList & Partial<ApiErrorBody>) | null;
  if (!response.ok) throw new ApiError(response.status, body?.error?.code ?? `http_${response.status}`, body?.error?.message ?? response.statusText);
  return body as SyncRecordList;
}
