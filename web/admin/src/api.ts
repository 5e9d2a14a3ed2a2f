/**
 * The console's API client: openapi-fetch over the service's own /v1 routes, typed by the SDK's
 * generated OpenAPI types (imported as types only: nothing of the SDK is bundled). The session
 * cookie rides along (same origin); every non-GET request carries X-CSRF-Token; Accept-Language
 * follows the console's language, so the API's error messages come in it too.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../../../packages/sdk/src/generated/openapi';
import { currentLocale } from './i18n';
import { session } from './session';

export type { paths };

/** What the API answers on an error: a stable `code` and a message in the request's language. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** A failed call: the API's code and message (or a network failure as `network_error`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const headers: Middleware = {
  onRequest({ request }) {
    request.headers.set('accept-language', currentLocale());
    if (request.method !== 'GET' && request.method !== 'HEAD' && session.csrfToken) request.headers.set('x-csrf-token', session.csrfToken);
    return request;
  },
  onResponse({ response }) {
    // The session ended elsewhere (expired, signed out in another tab): back to the sign-in page.
    if (response.status === 401 && !response.url.endsWith('/v1/console/session')) session.expired();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(headers);

/** A call's data, or an ApiError carrying the API's code and message. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  if (result.response.ok) return result.data as T;
  const body = result.error as Partial<ApiErrorBody> | undefined;
  throw new ApiError(result.response.status, body?.error?.code ?? `http_${result.response.status}`, body?.error?.message ?? result.response.statusText);
}

/** The message to show for any failure. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
