import type { FastifyReply, FastifyRequest } from 'fastify';
import { resolveClientIp } from '../../platform/client-ip.js';
import { errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import { clearedCookie, readCookie, sameToken, SESSION_COOKIE, sessionCookie } from './cookie.js';
import { operatorErrors } from './operator.errors.js';
import { PasswordChangeBody, Session, SignedOut, SignInBody } from './operator.schemas.js';
import type { ResolvedSession, SessionService } from './session.service.js';

const tags = ['console'];
// Cookie-only routes: no API key, no Idempotency-Key (a session is not a resource to replay).
const config = { auth: 'public', idempotent: false } as const;

const secure = (request: FastifyRequest) => request.protocol === 'https';

/** The request's session (cookie), or 401 not_signed_in. */
async function sessionOf(sessions: SessionService, request: FastifyRequest): Promise<ResolvedSession> {
  const value = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (value === undefined) throw operatorErrors.notSignedIn();
  return sessions.resolve(value);
}

function requireCsrf(request: FastifyRequest, session: ResolvedSession): void {
  const sent = request.headers['x-csrf-token'];
  if (!sameToken(typeof sent === 'string' ? sent : undefined, session.csrfToken)) throw operatorErrors.csrfInvalid();
}

/** Console sign-in (docs/console.md): the session cookie, its CSRF token, sign-out and password change. */
export function sessionRoutes(app: Api, deps: { sessions: SessionService }): void {
  const { sessions } = deps;

  app.post(
    '/v1/console/session',
    {
      config,
      schema: {
        tags,
        summary: 'Sign in to the console: sets the HttpOnly mh_session cookie and answers its CSRF token',
        security: [],
        body: SignInBody,
        response: { 200: Session, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { cookie, session } = await sessions.signIn(request.body, resolveClientIp(request).ip, request.id);
      void reply.header('set-cookie', sessionCookie(cookie, secure(request)));
      void reply.header('cache-control', 'no-store');
      return session;
    },
  );

  app.get(
    '/v1/console/session',
    { config, schema: { tags, summary: 'The signed-in operator and the CSRF token', security: [], response: { 200: Session, ...errors(401) } } },
    async (request, reply) => {
      const session = await sessionOf(sessions, request);
      void reply.header('cache-control', 'no-store');
      return session.view;
    },
  );

  app.delete(
    '/v1/console/session',
    { config, schema: { tags, summary: 'Sign out (needs X-CSRF-Token while the session lives)', security: [], response: { 200: SignedOut, ...errors(403) } } },
    async (request, reply: FastifyReply) => {
      const value = readCookie(request.headers.cookie, SESSION_COOKIE);
      let signedOut = false;
      if (value !== undefined) {
        const session = await sessions.resolve(value).catch(() => null);
        if (session) {
          requireCsrf(request, session);
          await sessions.signOut(session, { ip: resolveClientIp(request).ip, requestId: request.id });
          signedOut = true;
        }
      }
      void reply.header('set-cookie', clearedCookie(secure(request)));
      return { signed_out: signedOut };
    },
  );

  app.post(
    '/v1/console/password',
    {
      config,
      schema: {
        tags,
        summary: "Change the signed-in operator's password; ends its other sessions",
        security: [],
        body: PasswordChangeBody,
        response: { 200: Session, ...errors(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const session = await sessionOf(sessions, request);
      requireCsrf(request, session);
      return sessions.changePassword(session, request.body, resolveClientIp(request).ip);
    },
  );
}
