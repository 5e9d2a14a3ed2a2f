import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for WeChat's server API, speaking the three endpoints of the sign-in as WeChat
 * documents them (HTTP 200 with `{errcode, errmsg}` on errors):
 * - `GET /sns/jscode2session`: a code from `issueCode` (single use: a second use is 40163),
 *   40029 for an unknown code, 40013 / 40125 for a wrong AppID / AppSecret; the codes `busy`
 *   (-1), `limited` (45011), `http-500` (HTTP 500), `garbage` (not JSON) and `slow` (no answer)
 *   play WeChat's failures;
 * - `GET /cgi-bin/token`: a new access_token each call (counted in `tokenCalls`), expires_in
 *   `tokenTtlSeconds`; `expireTokens()` makes every issued token invalid (40001) as a new one
 *   taken elsewhere would after its 5 minutes of overlap;
 * - `POST /wxa/business/getuserphonenumber?access_token=`: a code from `issuePhoneCode` ->
 *   phone_info, 40029 for an unknown one, 40001 for an unknown token;
 * - `GET /sns/oauth2/access_token` (an official account's web authorisation): a code from
 *   `issueWebCode` or from the authorize page below (single use: 40163 the second time), 40029
 *   for an unknown code or a wx.login code, 40013 / 40125 for a wrong AppID / AppSecret;
 * - `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state` (WeChat's
 *   authorize page, open.weixin.qq.com): the user `webUser` names is signed in at once (as
 *   snsapi_base does, without asking) and sent back to redirect_uri with `code` and `state`;
 *   an unknown AppID or a missing parameter is a 400 page, as WeChat shows its error page.
 */
export interface WechatPeer {
  url: string;
  tokenCalls: number;
  sessionCalls: number;
  phoneCalls: number;
  tokenTtlSeconds: number;
  /** Registers an app WeChat knows. */
  addApp(appId: string, secret: string): void;
  /** A wx.login code for a user of the app. */
  issueCode(appId: string, openid: string, unionid?: string): string;
  /** A web authorisation code (snsapi_base) for a user of the official account. */
  issueWebCode(appId: string, openid: string, unionid?: string): string;
  /** The WeChat user the authorize page signs in (its openid), per AppID. */
  webUser: Map<string, string>;
  authorizeCalls: number;
  webSessionCalls: number;
  /** A getPhoneNumber code granting this phone number. */
  issuePhoneCode(appId: string, phoneNumber: string): string;
  expireTokens(): void;
  close(): Promise<void>;
}

export async function startWechatPeer(): Promise<WechatPeer> {
  const apps = new Map<string, string>();
  const codes = new Map<string, { appId: string; openid: string; unionid?: string; used: boolean; web?: true }>();
  const phoneCodes = new Map<string, { appId: string; phone: string }>();
  const tokens = new Map<string, string>(); // token -> appId

  const json = (res: ServerResponse, body: unknown, status = 200) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const error = (res: ServerResponse, errcode: number, errmsg: string) => json(res, { errcode, errmsg });
  const credentialsError = (res: ServerResponse, appId: string | null, secret: string | null): boolean => {
    if (!appId || !apps.has(appId)) return error(res, 40013, 'invalid appid'), true;
    if (apps.get(appId) !== secret) return error(res, 40125, 'invalid appsecret'), true;
    return false;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://peer');
    const q = url.searchParams;
    if (req.method === 'GET' && url.pathname === '/sns/jscode2session') {
      peer.sessionCalls++;
      const code = q.get('js_code') ?? '';
      if (q.get('grant_type') !== 'authorization_code') return error(res, 40002, 'invalid grant_type');
      if (code === 'slow') return; // never answers: the client's timeout decides
      if (code === 'http-500') return res.writeHead(500).end('upstream error');
      if (code === 'garbage') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>busy</html>');
      if (credentialsError(res, q.get('appid'), q.get('secret'))) return;
      if (code === 'busy') return error(res, -1, 'system error');
      if (code === 'limited') return error(res, 45011, 'api minute-quota reach limit  mustslower  retry next minute');
      const entry = codes.get(code);
      if (!entry || entry.web || entry.appId !== q.get('appid')) return error(res, 40029, 'invalid code');
      if (entry.used) return error(res, 40163, 'code been used');
      entry.used = true;
      return json(res, { openid: entry.openid, session_key: randomBytes(16).toString('base64'), ...(entry.unionid ? { unionid: entry.unionid } : {}) });
    }
    if (req.method === 'GET' && url.pathname === '/sns/oauth2/access_token') {
      peer.webSessionCalls++;
      if (q.get('grant_type') !== 'authorization_code') return error(res, 40002, 'invalid grant_type');
      if (credentialsError(res, q.get('appid'), q.get('secret'))) return;
      const code = q.get('code') ?? '';
      if (code === 'busy') return error(res, -1, 'system error');
      const entry = codes.get(code);
      if (!entry || !entry.web || entry.appId !== q.get('appid')) return error(res, 40029, 'invalid code');
      if (entry.used) return error(res, 40163, 'code been used');
      entry.used = true;
      return json(res, {
        access_token: `uat_${randomBytes(12).toString('hex')}`,
        expires_in: 7200,
        refresh_token: `urt_${randomBytes(12).toString('hex')}`,
        openid: entry.openid,
        scope: 'snsapi_base',
        ...(entry.unionid ? { unionid: entry.unionid } : {}),
      });
    }
    if (req.method === 'GET' && url.pathname === '/connect/oauth2/authorize') {
      peer.authorizeCalls++;
      const appId = q.get('appid') ?? '';
      const openid = peer.webUser.get(appId);
      const redirect = q.get('redirect_uri');
      const scope = q.get('scope');
      if (!apps.has(appId) || !openid || !redirect || q.get('response_type') !== 'code' || (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo')) {
        return res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('authorize: bad request');
      }
      const back = new URL(redirect);
      back.searchParams.set('code', peer.issueWebCode(appId, openid));
      back.searchParams.set('state', q.get('state') ?? '');
      return res.writeHead(302, { location: back.toString() }).end();
    }
    if (req.method === 'GET' && url.pathname === '/cgi-bin/token') {
      peer.tokenCalls++;
      if (q.get('grant_type') !== 'client_credential') return error(res, 40002, 'invalid grant_type');
      const appId = q.get('appid');
      if (credentialsError(res, appId, q.get('secret'))) return;
      const token = `tok_${randomBytes(12).toString('hex')}`;
      tokens.set(token, appId!);
      return json(res, { access_token: token, expires_in: peer.tokenTtlSeconds });
    }
    if (req.method === 'POST' && url.pathname === '/wxa/business/getuserphonenumber') {
      peer.phoneCalls++;
      const appId = tokens.get(q.get('access_token') ?? '');
      if (!appId) return error(res, 40001, 'invalid credential, access_token is invalid or not latest');
      let body: { code?: unknown } = {};
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown };
      } catch {
        return error(res, 47001, 'data format error');
      }
      const grant = typeof body.code === 'string' ? phoneCodes.get(body.code) : undefined;
      if (!grant || grant.appId !== appId) return error(res, 40029, 'invalid code');
      phoneCodes.delete(body.code as string);
      const pure = grant.phone.replace(/^\+86/, '');
      return json(res, {
        errcode: 0,
        errmsg: 'ok',
        phone_info: { phoneNumber: grant.phone, purePhoneNumber: pure, countryCode: '86', watermark: { timestamp: Math.floor(Date.now() / 1000), appid: appId } },
      });
    }
    return error(res, 404, 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer: WechatPeer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokenCalls: 0,
    sessionCalls: 0,
    authorizeCalls: 0,
    webSessionCalls: 0,
    webUser: new Map(),
    phoneCalls: 0,
    tokenTtlSeconds: 7200,
    addApp: (appId, secret) => void apps.set(appId, secret),
    issueCode(appId, openid, unionid) {
      const code = `c_${randomBytes(8).toString('hex')}`;
      codes.set(code, { appId, openid, ...(unionid ? { unionid } : {}), used: false });
      return code;
    },
    issueWebCode(appId, openid, unionid) {
      const code = `w_${randomBytes(8).toString('hex')}`;
      codes.set(code, { appId, openid, ...(unionid ? { unionid } : {}), used: false, web: true });
      return code;
    },
    issuePhoneCode(appId, phone) {
      const code = `p_${randomBytes(8).toString('hex')}`;
      phoneCodes.set(code, { appId, phone });
      return code;
    },
    expireTokens: () => tokens.clear(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return peer;
}
