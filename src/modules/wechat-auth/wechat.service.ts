import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, invalidRequest } from '../../platform/errors.js';
import type { SecretBox } from '../../platform/secret-box.js';
import type { WechatClient, WechatCredentials } from './wechat.client.js';
import { wechatErrors } from './wechat.errors.js';
import * as repo from './wechat.repo.js';
import type { PutAppInput, SignInInput, SignInView, WechatAppView } from './wechat.schemas.js';

export type WechatAuthService = ReturnType<typeof createWechatAuthService>;

function toView(row: repo.WechatAppRow): WechatAppView {
  return { app_id: row.app_id, name: row.name, secret_set: true, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

export interface WechatAuthDeps {
  db: Database;
  clock: Clock;
  box: SecretBox;
  client: WechatClient;
  /**
   * Keyless sign-in from a landing page: the tenant of a campaign the referral hub publishes and
   * the AppID its referral settings name (null: the tenant's only app); throws the referral
   * module's 404 campaign_not_found otherwise. Absent: keyless sign-in is refused.
   */
  pageApp?: (campaignId: string) => Promise<{ tenantId: string; appId: string | null }>;
}

export function createWechatAuthService(deps: WechatAuthDeps) {
  const { db, clock, box, client } = deps;

  /** The app a sign-in uses: the one named, else the tenant's only app. */
  async function credentialsOf(tenantId: string, appId: string | undefined, exec: Executor): Promise<WechatCredentials> {
    let row: repo.WechatAppRow | undefined;
    if (appId !== undefined) {
      row = await repo.findApp(exec, tenantId, appId);
      if (!row) throw wechatErrors.appNotFound(appId);
    } else {
      const rows = await repo.listApps(exec, tenantId, 2);
      if (rows.length !== 1) throw wechatErrors.appRequired(rows.length);
      row = rows[0]!;
    }
    return { appId: row.app_id, secret: box.open<string>(row.secret_sealed) };
  }

  return {
    /** Creates or replaces a WeChat app of the caller's tenant; the secret is sealed and never answered. */
    async putApp(actor: Actor, appId: string, input: PutAppInput, exec: Executor = db): Promise<WechatAppView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.upsertApp(exec, {
        tenant_id: tenant.tenantId,
        app_id: appId,
        name: input.name ?? null,
        secret_sealed: box.seal(input.secret),
        created_at: now,
        updated_at: now,
      });
      // A token taken with the old secret is still valid at WeChat, but the cache is keyed by secret anyway.
      client.forget(appId);
      return toView(row);
    },

    /** One WeChat app of the caller's tenant (without its secret), or wechat_app_not_found. */
    async getApp(actor: Actor, appId: string, exec: Executor = db): Promise<WechatAppView> {
      const row = await repo.findApp(exec, requireTenant(actor).tenantId, appId);
      if (!row) throw wechatErrors.appNotFound(appId);
      return toView(row);
    },

    /**
     * WeChat sign-in: the wx.login code -> openid (and unionid), and with a getPhoneNumber code the
     * phone number; with kind web, an official account's web authorisation code -> openid. No database write and no transaction: the calls to WeChat happen outside any.
     */
    async signIn(actor: Actor | null, input: SignInInput): Promise<SignInView> {
      let credentials: WechatCredentials;
      if (actor) {
        credentials = await credentialsOf(requireTenant(actor).tenantId, input.app_id, db);
      } else {
        // Keyless: the campaign decides the tenant and the app, never the caller.
        if (input.app_id !== undefined) throw invalidRequest('app_id', 'is taken from the campaign on a call without a key');
        if (input.campaign_id === undefined) throw invalidRequest('campaign_id', 'is required on a call without a key');
        if (!deps.pageApp) throw new AppError('unauthorized', 'unauthorized', 'Send an API key as `Authorization: Bearer <key>`');
        const page = await deps.pageApp(input.campaign_id);
        credentials = await credentialsOf(page.tenantId, page.appId ?? undefined, db);
      }
      if (input.kind === 'web') {
        // A web page has no getPhoneNumber button: the phone code is a mini-program's only.
        if (input.phone_code !== undefined) throw invalidRequest('phone_code', 'is a mini-program code: not taken with kind web');
        const web = await client.webSession(credentials, input.code);
        return { openid: web.openid, unionid: web.unionid };
      }
      const session = await client.session(credentials, input.code);
      const answer: SignInView = { openid: session.openid, unionid: session.unionid };
      if (input.phone_code !== undefined) answer.phone_number = await client.phoneNumber(credentials, input.phone_code);
      return answer;
    },
  };
}
