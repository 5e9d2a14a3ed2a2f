import createClient, { type Client } from 'openapi-fetch';
import { errorFromBody, MarketingError } from './errors.js';
import type { paths } from './generated/openapi.js';
import { type RetryOptions, sendWithRetry } from './retry.js';
import { fetchTransport, type FetchLike, type Transport } from './transport.js';

export type MarketingClient = Client<paths>;

export interface MarketingClientOptions {
  /** The service, e.g. https://marketing.example.com */
  baseUrl: string;
  /** A secret API key (server side only: never ship it to a browser or an app). */
  apiKey: string;
  /** Sends the requests (default: fetch). */
  transport?: Transport;
  /** A fetch to build the default transport on. */
  fetch?: FetchLike;
  retry?: RetryOptions;
  /** Sent with every request (e.g. X-Product-Code). */
  headers?: Record<string, string>;
}

/**
 * The whole API, typed from the service's OpenAPI document (openapi-fetch over generated/openapi.ts):
 * `client.POST('/v1/campaigns', { body })` answers `{ data, error, response }`; `unwrap` turns it
 * into the data or a thrown MarketingError. Every write carries one Idempotency-Key and is retried
 * as `sendWithRetry` says.
 */
export function createMarketingClient(options: MarketingClientOptions): MarketingClient {
  const transport = options.transport ?? fetchTransport(options.fetch);
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { ...options.headers, authorization: `Bearer ${options.apiKey}` },
    fetch: retryingFetch(transport, options.retry),
  });
}

const NULL_BODY = new Set([101, 204, 205, 304]);

/** A fetch(Request) for openapi-fetch that sends through `transport` with the retry policy. */
export function retryingFetch(transport: Transport, retry?: RetryOptions): (request: Request) => Promise<Response> {
  return async function send(request) {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
    const method = request.method.toUpperCase();
    const text = method === 'GET' || method === 'HEAD' ? '' : await request.text();
    const res = await sendWithRetry(transport, { method, url: request.url, headers, ...(text !== '' ? { body: text } : {}) }, retry);
    return new Response(NULL_BODY.has(res.status) ? null : res.body, { status: res.status, headers: res.headers });
  };
}

/**
 * The data of an openapi-fetch result, or its error thrown as a MarketingError:
 * `const campaign = await unwrap(client.POST('/v1/campaigns', { body }))`.
 */
export async function unwrap<T>(result: Promise<{ data?: T; error?: unknown; response: Response }> | { data?: T; error?: unknown; response: Response }): Promise<T> {
  const { data, error, response } = await result;
  if (response.ok) return data as T;
  if (error === undefined) throw new MarketingError({ status: response.status, code: 'invalid_response', message: `HTTP ${response.status} without a body` });
  throw errorFromBody(response.status, error, response.headers.get('x-request-id') ?? undefined);
}
