/**
 * The signed-in operator: `GET /v1/console/session` once at start, `POST` to sign in, `DELETE` to
 * sign out. The session itself is the httpOnly cookie the API sets; the page keeps only the
 * operator and the CSRF token the API answers with. Plain fetch (not the typed client, which
 * reads the CSRF token from here), with the shapes of the SDK's generated types.
 */
import { reactive } from 'vue';
import type { paths } from '../../../packages/sdk/src/generated/openapi';

type SessionBody = paths['/v1/console/session']['get']['responses'][200]['content']['application/json'];
export type Operator = SessionBody['operator'];
type SignInBody = paths['/v1/console/session']['post']['requestBody']['content']['application/json'];
type PasswordBody = paths['/v1/console/password']['post']['requestBody']['content']['application/json'];

interface SessionState {
  operator: Operator | null;
  csrfToken: string | null;
  checked: boolean;
  onExpired: (() => void) | null;
  expired(): void;
}

export const session = reactive<SessionState>({
  operator: null,
  csrfToken: null,
  checked: false,
  onExpired: null,
  expired() {
    if (!this.operator) return;
    this.operator = null;
    this.csrfToken = null;
    this.onExpired?.();
  },
});

function accept(body: SessionBody): Operator {
  session.operator = body.operator;
  session.csrfToken = body.csrf_token;
  return body.operator;
}

async function failure(response: Response): Promise<Error & { code: string; status: number }> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const err = new Error(body?.error?.message ?? response.statusText) as Error & { code: string; status: number };
  err.code = body?.error?.code ?? `http_${response.status}`;
  err.status = response.status;
  return err;
}

const jsonHeaders = (lang: string): Record<string, string> => ({ 'content-type': 'application/json', 'accept-language': lang });

/** Asks the API who is signed in (null: nobody). */
export async function loadSession(lang: string): Promise<Operator | null> {
  try {
    const response = await fetch('/v1/console/session', { credentials: 'same-origin', headers: { 'accept-language': lang } });
    if (!response.ok) return null;
    return accept((await response.json()) as SessionBody);
  } finally {
    session.checked = true;
  }
}

export async function signIn(lang: string, input: SignInBody): Promise<Operator> {
  const response = await fetch('/v1/console/session', { method: 'POST', credentials: 'same-origin', headers: jsonHeaders(lang), body: JSON.stringify(input) });
  if (!response.ok) throw await failure(response);
  return accept((await response.json()) as SessionBody);
}

export async function signOut(lang: string): Promise<void> {
  const headers: Record<string, string> = { 'accept-language': lang };
  if (session.csrfToken) headers['x-csrf-token'] = session.csrfToken;
  await fetch('/v1/console/session', { method: 'DELETE', credentials: 'same-origin', headers }).catch(() => undefined);
  session.operator = null;
  session.csrfToken = null;
}

export async function changePassword(lang: string, input: PasswordBody): Promise<void> {
  const response = await fetch('/v1/console/password', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...jsonHeaders(lang), 'x-csrf-token': session.csrfToken ?? '' },
    body: JSON.stringify(input),
  });
  if (!response.ok) throw await failure(response);
}
