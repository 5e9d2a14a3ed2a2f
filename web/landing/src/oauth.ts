/**
 * WeChat's web authorisation (snsapi_base) inside WeChat's browser: the page goes to WeChat's
 * authorize page, which sends the visitor back with `?code=&state=`; the service exchanges the
 * code for the payer's openid (POST /api/v1/auth/wechat, kind web). The state is random and kept
 * in sessionStorage: a code that comes back with another state is not ours and is ignored.
 */
const STATE_KEY = 'mh:oauth:state';
const DEFAULT_BASE = 'https://open.weixin.qq.com';

function session(key: string, value?: string | null): string | null {
  try {
    if (value === undefined) return sessionStorage.getItem(key);
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // storage refused: the sign-in cannot be matched on return and the page pays by QR instead
  }
  return null;
}

/** The authorize page's origin: the service's wechat.oauth_base_url, inlined with the form. */
export function oauthBase(): string {
  try {
    const data = JSON.parse(document.getElementById('mh-data')?.textContent ?? '{}') as { wechat_oauth_base_url?: unknown };
    if (typeof data.wechat_oauth_base_url === 'string' && /^https?:\/\//.test(data.wechat_oauth_base_url)) return data.wechat_oauth_base_url;
  } catch {
    // no inlined data: WeChat's own
  }
  return DEFAULT_BASE;
}

/** This page's URL without the authorisation's code and state (nor a hash). */
export function pageUrl(): string {
  const url = new URL(location.href);
  url.searchParams.delete('code');
  url.searchParams.delete('state');
  url.hash = '';
  return url.toString();
}

/** Sends the browser to WeChat's authorize page for the official account `appId`. */
export function authorize(appId: string): void {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const state = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  session(STATE_KEY, state);
  const query = `appid=${encodeURIComponent(appId)}&redirect_uri=${encodeURIComponent(pageUrl())}&response_type=code&scope=snsapi_base&state=${state}`;
  location.href = `${oauthBase()}/connect/oauth2/authorize?${query}#wechat_redirect`;
}

/**
 * The code WeChat sent back, when its state is the one this tab sent (then forgotten: a code is
 * single use). The code and state leave the address bar either way.
 */
export function returnedCode(query: URLSearchParams): string | null {
  const code = query.get('code');
  const state = query.get('state');
  if (code === null && state === null) return null;
  const expected = session(STATE_KEY);
  session(STATE_KEY, null);
  try {
    history.replaceState(history.state, '', pageUrl());
  } catch {
    // an old browser: the URL keeps them, harmless (the state no longer matches)
  }
  return code && state && expected && state === expected && /^[\x21-\x7e]{1,256}$/.test(code) ? code : null;
}

/** The form's values across the trip to WeChat and back (this tab only). */
export function keepValues(campaignId: string, values: Record<string, unknown> | null): void {
  session(`mh:values:${campaignId}`, values === null ? null : JSON.stringify(values));
}
export function keptValues(campaignId: string): Record<string, unknown> | null {
  try {
    const parsed = JSON.parse(session(`mh:values:${campaignId}`) ?? 'null') as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
