/**
 * Calls the customers and audiences pages make beyond the typed client: routes newer than the
 * SDK's generated types (their shapes are written here), and file uploads sent with
 * XMLHttpRequest so the page can show how much of a large file has gone up. The server reads an
 * import as a stream, row by row as the bytes arrive, so the bytes sent are the rows read.
 */
import { ApiError, type ApiErrorBody, type paths } from '../../api';
import { currentLocale } from '../../i18n';
import { session } from '../../session';

export type Customer = paths['/v1/customers/{user_id}']['get']['responses'][200]['content']['application/json'];
export interface CustomerList {
  customers: Customer[];
  pagination: { total: number; page: number; page_size: number };
}
export interface CustomerQuery {
  page: number;
  page_size: number;
  user_id?: string;
  tag?: string;
  phone?: string;
  email?: string;
}

export interface PreviewCustomer {
  user_id: string;
  tags: string[] | null;
  attributes: Record<string, unknown> | null;
}
export interface RulePreview {
  count: number;
  customers: PreviewCustomer[];
  evaluated_at: string;
}

/** An API error with its details (an invalid rule names its node in `details.path`). */
export class DetailedApiError extends ApiError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(status, code, message);
  }
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = { 'accept-language': currentLocale() };
  if (json) h['content-type'] = 'application/json';
  if (session.csrfToken) h['x-csrf-token'] = session.csrfToken;
  return h;
}

function failure(status: number, body: Partial<ApiErrorBody> | null, fallback: string): DetailedApiError {
  return new DetailedApiError(status, body?.error?.code ?? `http_${status}`, body?.error?.message ?? fallback, body?.error?.details ?? {});
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { method, credentials: 'same-origin', headers: headers(body !== undefined), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  if (response.status === 401) session.expired();
  const data = (await response.json().catch(() => null)) as unknown;
  if (!response.ok) throw failure(response.status, data as Partial<ApiErrorBody> | null, response.statusText);
  return data as T;
}

/** GET /v1/customers: a page of profiles, most recently changed first. */
export function searchCustomers(query: CustomerQuery): Promise<CustomerList> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  return call<CustomerList>('GET', `/v1/customers?${params}`);
}

/** POST /v1/audiences/preview: what an unsaved rule matches now (count and first users). */
export function previewRule(body: { audience_type: 'TAG' | 'SEGMENT'; rule: unknown; page_size?: number }): Promise<RulePreview> {
  return call<RulePreview>('POST', '/v1/audiences/preview', body);
}

/** The content type an upload is sent as, by the file's name: NDJSON for .ndjson / .jsonl, CSV otherwise. */
export function uploadType(file: File): string {
  return /\.(ndjson|jsonl)$/i.test(file.name) ? 'application/x-ndjson' : 'text/csv';
}

export interface Upload<T> {
  done: Promise<T>;
  abort(): void;
}

/** POSTs a file as the request body, reporting the share sent (0-1) as it goes. */
export function uploadFile<T>(path: string, file: File, onProgress: (sent: number) => void): Upload<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open('POST', path);
    xhr.withCredentials = true;
    for (const [key, value] of Object.entries(headers(false))) xhr.setRequestHeader(key, value);
    xhr.setRequestHeader('content-type', uploadType(file));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 401) session.expired();
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else reject(failure(xhr.status, body as Partial<ApiErrorBody> | null, xhr.statusText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload could not be sent'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
