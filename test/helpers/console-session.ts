import { randomBytes } from 'node:crypto';
import type { Api } from '../../src/platform/http/types.js';

/** What a console test needs: sign in as a browser would, and call with the cookie and the CSRF token. */
export interface Browser {
  cookie: string;
  csrf: string;
  operator: { operator_id: string; tenant_id: string | null; role: string; email: string };
}

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | number | string[] | undefined>;
}

export const randomIp = () => `10.${[0, 0, 0].map(() => randomBytes(1)[0]! % 250).join('.')}`;
export const uniqueEmail = (who = 'op') => `${who}-${randomBytes(5).toString('hex')}@Example.test`;
export const PASSWORD = 'correct horse battery';

function parse(res: { statusCode: number; body: string; headers: Answer['headers'] }): Answer {
  let body: unknown = res.body;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.statusCode, body, headers: res.headers };
}

export async function signInRaw(app: Api, body: Record<string, unknown>, options: { ip?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/console/session',
    payload: body,
    headers: options.headers ?? {},
    remoteAddress: options.ip ?? randomIp(),
  });
  return parse(res);
}

/** The mh_session value of a Set-Cookie header. */
export function cookieOf(answer: Answer): string {
  const header = String(answer.headers['set-cookie'] ?? '');
  const match = /^mh_session=([^;]*)/.exec(header);
  if (!match?.[1]) throw new Error(`no session cookie in ${header} (${answer.status} ${JSON.stringify(answer.body)})`);
  return match[1];
}

export async function signIn(app: Api, email: string, password: string, tenantId: string | null): Promise<Browser> {
  const answer = await signInRaw(app, { email, password, ...(tenantId ? { tenant_id: tenantId } : {}) });
  if (answer.status !== 200) throw new Error(`sign-in failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { cookie: cookieOf(answer), csrf: answer.body.csrf_token, operator: answer.body.operator };
}

/** A call with the session cookie; `csrf: false` leaves the token out. */
export async function asBrowser(app: Api, browser: Browser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, options: { csrf?: boolean | string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { cookie: `other=1; mh_session=${browser.cookie}`, ...options.headers };
  if (options.csrf !== false) headers['x-csrf-token'] = typeof options.csrf === 'string' ? options.csrf : browser.csrf;
  const res = await app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as Record<string, unknown> } : {}) });
  return parse(res);
}
