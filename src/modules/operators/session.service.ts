import { LRUCache } from 'lru-cache';
import { type Database, runTransaction } from '../../db/client.js';
import { type Actor, MASTER, type Role, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { randomToken } from '../../platform/ids.js';
import { csrfToken, sessionHash } from './cookie.js';
import { operatorErrors } from './operator.errors.js';
import * as repo from './operator.repo.js';
import type { PasswordChangeInput, SessionView, SignInInput } from './operator.schemas.js';
import type { OperatorRole } from './operator.tables.js';
import { toOperatorView } from './operator.view.js';
import { hashPassword, verifyPassword } from './password.js';
import type { SignInGuard } from './sign-in-guard.js';

export type SessionService = ReturnType<typeof createSessionService>;

/** A signed-in operator as the request hook admits it. */
export interface ResolvedSession {
  hash: string;
  operatorId: string;
  tenantId: string | null;
  actor: Actor;
  csrfToken: string;
  view: SessionView;
  expiresAt: number;
  lastSeen: number;
}

/**
 * A console sign-in event, for the audit log (docs/console.md): a sign-in, a failed one (wrong
 * password, unknown e-mail, disabled account: operatorId is null for an unknown e-mail), a
 * refusal while locked out (at most one per e-mail while the lock lasts) and a sign-out.
 */
export interface SessionEvent {
  event: 'sign_in' | 'sign_in_failed' | 'locked_out' | 'sign_out';
  tenantId: string | null;
  operatorId: string | null;
  email: string;
  ip: string | null;
  requestId: string | null;
  status: number;
}

const API_ROLE: Record<OperatorRole, Role> = { admin: 'admin', operator: 'service', viewer: 'readonly' };
// last_seen_at is written at most this often per session (the idle expiry is counted in minutes).
const TOUCH_EVERY_MS = 60_000;
const CACHE_LIMIT = 10_000;

/** The API caller an operator acts as: its tenant with the mapped role, or the master key. */
export function operatorActor(row: Pick<repo.OperatorRow, 'operator_id' | 'tenant_id' | 'role'>): Actor {
  if (row.tenant_id === null) return MASTER;
  const actor: TenantActor = { kind: 'tenant', tenantId: row.tenant_id, keyId: row.operator_id, role: API_ROLE[row.role], productCodes: null };
  return Object.freeze(actor);
}

export function createSessionService(deps: {
  db: Database;
  clock: Clock;
  guard: SignInGuard;
  idleMs: number;
  absoluteMs: number;
  cacheSeconds: number;
  warn?: (err: unknown, message: string) => void;
  /** Told of each sign-in event (never waits; the audit log queues it). */
  events?: (event: SessionEvent) => void;
}) {
  const { db, clock, guard } = deps;
  const emit = (event: SessionEvent) => deps.events?.(event);
  // The e-mails whose lock-out was recorded, until the lock ends: one entry per lock, not per refused attempt.
  const lockNoted = new LRUCache<string, true>({ max: CACHE_LIMIT, ttlResolution: 0, perf: { now: () => clock.now().getTime() } });
  const cache = new LRUCache<string, ResolvedSession>({
    max: CACHE_LIMIT,
    ttl: Math.max(0, deps.cacheSeconds) * 1000,
    ttlResolution: 0,
    perf: { now: () => clock.now().getTime() },
  });
  let signIns = 0;

  function live(session: ResolvedSession, now: number): boolean {
    return now < session.expiresAt && now - session.lastSeen < deps.idleMs;
  }

  /** Records use at most once a minute; the promise settles when it is written (never rejects). */
  function touch(session: ResolvedSession, now: number): Promise<void> {
    if (now - session.lastSeen < TOUCH_EVERY_MS) return Promise.resolve();
    session.lastSeen = now;
    return repo.touchSession(db, session.hash, new Date(now)).catch((err: unknown) => deps.warn?.(err, 'could not record console session use'));
  }

  function resolved(value: string, row: repo.OperatorRow, hash: string, expiresAt: Date, lastSeen: Date): ResolvedSession {
    return {
      hash,
      operatorId: row.operator_id,
      tenantId: row.tenant_id,
      actor: operatorActor(row),
      csrfToken: csrfToken(value),
      view: { operator: toOperatorView(row), csrf_token: csrfToken(value) },
      expiresAt: expiresAt.getTime(),
      lastSeen: lastSeen.getTime(),
    };
  }

  /** Forgets this process's cached sessions of an operator (sign-out, password change, disable, delete, role change). */
  function forgetOperator(operatorId: string): void {
    const hashes = [...cache.entries()].filter(([, s]) => s.operatorId === operatorId).map(([hash]) => hash);
    for (const hash of hashes) cache.delete(hash);
  }

  return {
    forgetOperator,

    /**
     * Signs in: 401 invalid_credentials for an unknown e-mail, a wrong password or a disabled
     * account alike (an unknown e-mail is verified against a dummy hash, so it takes as long),
     * 429 operator_locked after too many failures. Returns the new cookie value and the session.
     */
    async signIn(input: SignInInput, ip: string, requestId: string | null = null): Promise<{ cookie: string; session: SessionView }> {
      const tenantId = input.tenant_id ?? null;
      const base = { tenantId, email: input.email.toLowerCase(), ip, requestId };
      return guard.attempt({ tenantId, email: input.email, ip }, async (state, fail) => {
        if (state.locked) {
          const key = `${tenantId ?? '-'}:${base.email}`;
          if (!lockNoted.has(key)) {
            lockNoted.set(key, true, { ttl: Math.max(1000, state.retryAfterMs) });
            const known = await repo.findOperatorByEmail(db, tenantId, input.email);
            emit({ ...base, event: 'locked_out', operatorId: known?.operator_id ?? null, status: 429 });
          }
          throw operatorErrors.locked(state.retryAfterMs);
        }
        const row = await repo.findOperatorByEmail(db, tenantId, input.email);
        const ok = await verifyPassword(row?.password_hash ?? null, input.password);
        if (!row || !ok || row.disabled) {
          await fail();
          emit({ ...base, event: 'sign_in_failed', operatorId: row?.operator_id ?? null, status: 401 });
          throw operatorErrors.invalidCredentials();
        }
        const value = randomToken(32);
        const now = clock.now();
        const expiresAt = new Date(now.getTime() + deps.absoluteMs);
        const hash = sessionHash(value);
        await repo.insertSession(db, { session_hash: hash, operator_id: row.operator_id, created_at: now, last_seen_at: now, expires_at: expiresAt });
        // Now and then, drop ended sessions (no job needed for a table this small).
        if (++signIns % 50 === 1) await repo.deleteExpiredSessions(db, now);
        const session = resolved(value, row, hash, expiresAt, now);
        if (deps.cacheSeconds > 0) cache.set(hash, session);
        emit({ ...base, event: 'sign_in', operatorId: row.operator_id, status: 200 });
        return { cookie: value, session: session.view };
      });
    },

    /** A live session cached in this process, without the database (the request hook's fast path). */
    known(value: string): ResolvedSession | undefined {
      const hash = sessionHash(value);
      const session = cache.get(hash);
      if (!session) return undefined;
      const now = clock.now().getTime();
      if (!live(session, now)) {
        cache.delete(hash);
        return undefined;
      }
      void touch(session, now);
      return session;
    },

    /** The session of a cookie value, or 401 not_signed_in (unknown, ended, expired, or its operator disabled). */
    async resolve(value: string): Promise<ResolvedSession> {
      const cached = this.known(value);
      if (cached) return cached;
      const hash = sessionHash(value);
      const row = await repo.findSession(db, hash);
      const now = clock.now().getTime();
      if (!row || row.disabled) throw operatorErrors.notSignedIn();
      const session = resolved(value, row, hash, row.expires_at, row.last_seen_at);
      if (!live(session, now)) {
        await repo.deleteSession(db, hash);
        throw operatorErrors.notSignedIn();
      }
      // Read from the database: the use is written before the answer, so the next read sees it.
      await touch(session, now);
      if (deps.cacheSeconds > 0) cache.set(hash, session);
      return session;
    },

    /** Ends one session (sign-out); at once in this process, within the cache time elsewhere. */
    async signOut(session: ResolvedSession, context: { ip?: string; requestId?: string } = {}): Promise<void> {
      await repo.deleteSession(db, session.hash);
      cache.delete(session.hash);
      const { operator } = session.view;
      emit({ event: 'sign_out', tenantId: operator.tenant_id, operatorId: operator.operator_id, email: operator.email.toLowerCase(), ip: context.ip ?? null, requestId: context.requestId ?? null, status: 200 });
    },

    /** Changes the signed-in operator's own password and ends its other sessions. */
    async changePassword(session: ResolvedSession, input: PasswordChangeInput, ip: string): Promise<SessionView> {
      const current = await repo.findOperator(db, session.operatorId);
      if (!current || current.disabled) throw operatorErrors.notSignedIn();
      return guard.attempt({ tenantId: current.tenant_id, email: current.email, ip }, async (state, fail) => {
        if (state.locked) throw operatorErrors.locked(state.retryAfterMs);
        if (!(await verifyPassword(current.password_hash, input.current_password))) {
          await fail();
          throw operatorErrors.currentPasswordInvalid();
        }
        const passwordHash = await hashPassword(input.new_password);
        const now = clock.now();
        const row = await runTransaction(db, async (trx) => {
          const updated = await repo.updateOperator(trx, current.operator_id, { password_hash: passwordHash, password_changed_at: now, updated_at: now });
          await repo.deleteSessionsOf(trx, current.operator_id, session.hash);
          return updated;
        });
        forgetOperator(current.operator_id);
        if (!row) throw operatorErrors.notSignedIn();
        return { operator: toOperatorView(row), csrf_token: session.csrfToken };
      });
    },
  };
}
