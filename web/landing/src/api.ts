/** The keyless routes of the page (same origin), and the visitor's state kept in localStorage. */
import { t } from './i18n';

export interface PublicForm {
  campaign_id: string;
  title: string;
  description: string | null;
  image_url: string | null;
  form_fields: Record<string, unknown> | null;
  amount: number;
  currency: string;
  wechat_app_id?: string | null;
}

export interface Order {
  order_id: string;
  campaign_id: string;
  status: string;
  pay_status: string;
  amount: number;
  currency: string;
  success_code: string | null;
}

export interface PayStart {
  order_id: string;
  provider: string;
  sandbox_pay_url?: string;
  h5_url?: string;
  code_url?: string;
  jsapi_params?: Record<string, string>;
}

/** An error answered by the service: its stable `code`, message and details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', t.network);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? `HTTP ${res.status}`, error?.details ?? {});
  }
  return parsed as T;
}

const enc = encodeURIComponent;
export const api = {
  form: (id: string) => call<PublicForm>('GET', `/api/v1/campaigns/${enc(id)}/form`),
  view: (id: string, ref: Ref) => call<void>('POST', `/api/v1/campaigns/${enc(id)}/views`, ref),
  order: (body: { campaign_id: string; phone: string; form_data: Record<string, unknown> } & Ref) => call<Order>('POST', '/api/v1/orders', body),
  get: (orderId: string) => call<Order>('GET', `/api/v1/orders/${enc(orderId)}`),
  pay: (orderId: string, scene: 'h5' | 'jsapi' | 'native', openid?: string | null) =>
    call<PayStart>('POST', `/api/v1/orders/${enc(orderId)}/pay`, { scene, ...(openid ? { payer_openid: openid } : {}) }),
  /** WeChat's web authorisation code -> the payer's openid, with the campaign's official account. */
  signIn: (campaignId: string, code: string) => call<{ openid: string }>('POST', '/api/v1/auth/wechat', { code, campaign_id: campaignId, kind: 'web' }),
  /** The sandbox's "pay" route, called on this origin whatever host its URL names. */
  sandboxPay: (url: string) => call<Order>('POST', new URL(url, location.href).pathname),
  /** The share poster (PNG) as an object URL, or null when the service does not offer it here. */
  async poster(body: { campaign_id: string; user_id: string; channel_id?: string }): Promise<string | null> {
    const res = await fetch('/api/v1/qrcode/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status === 401 || res.status === 404) return null;
    if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith('image/')) {
      const error = ((await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? `HTTP ${res.status}`);
    }
    return URL.createObjectURL(await res.blob());
  },
};

export interface Ref {
  c_id?: string;
  u_id?: string;
}

function store(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // private mode: the page still works for this visit
  }
}
function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** c_id / u_id: the link's own win and are kept; a later visit without them uses the kept ones. */
export function referral(campaignId: string, query: URLSearchParams): Ref {
  const key = `mh:ref:${campaignId}`;
  let kept: Ref = {};
  try {
    kept = JSON.parse(read(key) ?? '{}') as Ref;
  } catch {
    kept = {};
  }
  // As the API takes them: 1-128 characters, no control characters.
  const valid = (v: string | null | undefined) => (v && v.length <= 128 && ![...v].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127) ? v : undefined);
  const ref: Ref = {};
  const c = valid(query.get('c_id')) ?? valid(kept.c_id);
  const u = valid(query.get('u_id')) ?? valid(kept.u_id);
  if (c) ref.c_id = c;
  if (u) ref.u_id = u;
  store(key, JSON.stringify(ref));
  return ref;
}

export const keptOrder = (campaignId: string) => read(`mh:order:${campaignId}`);
export const keepOrder = (campaignId: string, orderId: string | null) => store(`mh:order:${campaignId}`, orderId);

/**
 * The payer's openid for WeChat's JSAPI payment, per official account (an openid is the user's
 * within one AppID): the page's own web sign-in keeps it; a tenant's sign-in may also send the
 * visitor back with `?openid=`. Both are kept for later visits.
 */
const OPENID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const openidKey = (appId: string | null | undefined) => (appId ? `mh:openid:${appId}` : 'mh:openid');
export function payerOpenid(query: URLSearchParams, appId: string | null | undefined): string | null {
  const given = query.get('openid');
  if (given && OPENID_RE.test(given)) store(openidKey(appId), given);
  return read(openidKey(appId)) ?? (appId ? read(openidKey(null)) : null);
}
export function keepOpenid(appId: string | null | undefined, openid: string): void {
  if (OPENID_RE.test(openid)) store(openidKey(appId), openid);
}
