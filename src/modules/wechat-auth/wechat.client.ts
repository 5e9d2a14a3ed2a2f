import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { wechatErrors } from './wechat.errors.js';

/**
 * WeChat's server API for mini-program sign-in, as documented by WeChat:
 * - `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` -> openid,
 *   session_key, unionid (when the app is bound to an open platform account);
 * - `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code` (an official
 *   account's web authorisation, the code WeChat's authorize page sent back) -> access_token,
 *   expires_in, refresh_token, openid, scope, unionid (when bound);
 * - `GET /cgi-bin/token?grant_type=client_credential&appid&secret` -> access_token, expires_in;
 * - `POST /wxa/business/getuserphonenumber?access_token=` with `{"code"}` -> phone_info.
 * Errors come as `{errcode, errmsg}` with HTTP 200. The base URL is configuration (wechat.api_base_url),
 * so tests point it at a local peer (testing/wechat-peer.ts).
 */
export interface WechatClientDeps {
  baseUrl: string;
  timeoutMs: number;
  clock: Clock;
}

export interface WechatCredentials {
  appId: string;
  secret: string;
}

export interface WechatSession {
  openid: string;
  unionid: string | null;
  /** Kept inside the service: WeChat says the session key must never reach the client. */
  sessionKey: string;
}

type WechatBody = Record<string, unknown> & { errcode?: number; errmsg?: string };

// WeChat's access token is invalid or expired (another process may have taken a new one).
const TOKEN_INVALID = new Set([40001, 40014, 42001]);
const APP_REJECTED = new Set([40013, 40125, 40164, 41002, 41004, 61024]);

/** Our error for a WeChat errcode; `field` names the code the call carried. */
function refusal(body: WechatBody, field: 'code' | 'phone_code' | null): Error {
  const errcode = Number(body.errcode);
  const errmsg = String(body.errmsg ?? '');
  if (errcode === -1) return wechatErrors.unavailable('system busy', -1);
  if ((errcode === 40029 || errcode === 40163) && field) return wechatErrors.codeInvalid(field, errcode, errmsg);
  if (errcode === 45011 || errcode === 45009) return wechatErrors.rateLimited(errcode, errmsg);
  if (APP_REJECTED.has(errcode)) return wechatErrors.appRejected(errcode, errmsg);
  return wechatErrors.failed(errcode, errmsg);
}

export type WechatClient = ReturnType<typeof createWechatClient>;

export function createWechatClient(deps: WechatClientDeps) {
  const base = deps.baseUrl.replace(/\/+$/, '');
  // Access tokens per app (and secret: a new secret means a new token), with the fetch in flight
  // shared. Each process keeps its own; WeChat keeps the previous token valid for 5 minutes after
  // a new one is issued, and a call refused with an invalid token takes a new one and retries once.
  const tokens = new Map<string, { token: string; expiresAt: number } | Promise<string>>();
  const tokenKey = (c: WechatCredentials) => `${c.appId}:${createHash('sha256').update(c.secret).digest('base64url')}`;

  async function call(path: string, init: { method: 'GET' | 'POST'; body?: unknown }): Promise<WechatBody> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: init.method,
        signal: AbortSignal.timeout(deps.timeoutMs),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (err) {
      const name = (err as Error).name;
      throw wechatErrors.unavailable(name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${deps.timeoutMs} ms` : 'cannot connect');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw wechatErrors.unavailable(`HTTP ${res.status}`);
    }
    try {
      const body = (await res.json()) as unknown;
      if (body && typeof body === 'object' && !Array.isArray(body)) return body as WechatBody;
    } catch {
      // fall through: not JSON
    }
    throw wechatErrors.unavailable('an answer that is not a JSON object');
  }

  const failed = (body: WechatBody) => body.errcode !== undefined && Number(body.errcode) !== 0;

  async function fetchToken(c: WechatCredentials): Promise<{ token: string; expiresAt: number }> {
    const query = new URLSearchParams({ grant_type: 'client_credential', appid: c.appId, secret: c.secret });
    const body = await call(`/cgi-bin/token?${query.toString()}`, { method: 'GET' });
    if (failed(body)) throw refusal(body, null);
    const token = body.access_token;
    const expiresIn = Number(body.expires_in);
    if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) throw wechatErrors.unavailable('a token answer without access_token');
    // Renewed 5 minutes (at most a tenth of its life) before WeChat's expiry, so a token is never used at its edge.
    const margin = Math.min(300, expiresIn / 10);
    return { token, expiresAt: deps.clock.now().getTime() + (expiresIn - margin) * 1000 };
  }

  async function accessToken(c: WechatCredentials): Promise<string> {
    const key = tokenKey(c);
    const held = tokens.get(key);
    if (held instanceof Promise) return held;
    if (held && held.expiresAt > deps.clock.now().getTime()) return held.token;
    const pending = fetchToken(c).then(
      (fresh) => {
        tokens.set(key, fresh);
        return fresh.token;
      },
      (err: unknown) => {
        tokens.delete(key);
        throw err;
      },
    );
    tokens.set(key, pending);
    return pending;
  }

  return {
    /** Exchanges a wx.login code for the user's openid (and unionid, when WeChat has one). */
    async session(c: WechatCredentials, code: string): Promise<WechatSession> {
      const query = new URLSearchParams({ appid: c.appId, secret: c.secret, js_code: code, grant_type: 'authorization_code' });
      const body = await call(`/sns/jscode2session?${query.toString()}`, { method: 'GET' });
      if (failed(body)) throw refusal(body, 'code');
      if (typeof body.openid !== 'string' || body.openid === '') throw wechatErrors.unavailable('a session answer without openid');
      return { openid: body.openid, unionid: typeof body.unionid === 'string' && body.unionid !== '' ? body.unionid : null, sessionKey: String(body.session_key ?? '') };
    },

    /**
     * Exchanges a web authorisation code (snsapi_base) for the user's openid. WeChat's user
     * access_token in the answer is not kept: snsapi_base grants nothing more than the openid.
     */
    async webSession(c: WechatCredentials, code: string): Promise<{ openid: string; unionid: string | null }> {
      const query = new URLSearchParams({ appid: c.appId, secret: c.secret, code, grant_type: 'authorization_code' });
      const body = await call(`/sns/oauth2/access_token?${query.toString()}`, { method: 'GET' });
      if (failed(body)) throw refusal(body, 'code');
      if (typeof body.openid !== 'string' || body.openid === '') throw wechatErrors.unavailable('an authorisation answer without openid');
      return { openid: body.openid, unionid: typeof body.unionid === 'string' && body.unionid !== '' ? body.unionid : null };
    },

    /** The phone number the user granted (getPhoneNumber's code), as WeChat prints it (with the country code outside +86). */
    async phoneNumber(c: WechatCredentials, phoneCode: string): Promise<string> {
      for (let attempt = 0; ; attempt++) {
        const token = await accessToken(c);
        const body = await call(`/wxa/business/getuserphonenumber?${new URLSearchParams({ access_token: token }).toString()}`, { method: 'POST', body: { code: phoneCode } });
        if (failed(body) && TOKEN_INVALID.has(Number(body.errcode)) && attempt === 0) {
          // Our cached token went stale early (another process took a new one): forget it and retry once.
          const current = tokens.get(tokenKey(c));
          if (current && !(current instanceof Promise) && current.token === token) tokens.delete(tokenKey(c));
          continue;
        }
        if (failed(body)) throw refusal(body, 'phone_code');
        const info = body.phone_info as { phoneNumber?: unknown; watermark?: { appid?: unknown } } | undefined;
        if (typeof info?.phoneNumber !== 'string' || info.phoneNumber === '') throw wechatErrors.unavailable('a phone answer without phone_info.phoneNumber');
        // The watermark names the app the number was granted to: another app's grant is not ours to use.
        if (info.watermark?.appid !== undefined && info.watermark.appid !== c.appId) throw wechatErrors.failed(0, 'phone_info.watermark.appid names another app');
        return info.phoneNumber;
      }
    },

    /** Drops the cached token of an app (its secret changed). */
    forget(appId: string): void {
      for (const key of tokens.keys()) if (key.startsWith(`${appId}:`)) tokens.delete(key);
    },
  };
}
