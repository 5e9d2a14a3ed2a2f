/**
 * The one contract every platform implements: a request of plain values in, a response of plain
 * values out (the body as text). Browsers and Node 20 use `fetchTransport`; WeChat mini-programs,
 * which have no fetch, use `wxTransport` (wx.ts). A transport throws only when no HTTP answer
 * came back (network down, connection reset, timeout): that is what the retry loop retries.
 */
export interface TransportRequest {
  method: string;
  url: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body?: string;
}

export interface TransportResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** The fetch function a transport needs (the global one, or any compatible implementation). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  status: number;
  headers: { forEach(fn: (value: string, name: string) => void): void };
  text(): Promise<string>;
}>;

/** A transport over fetch: browsers, Node 20, Deno, Bun, workers. */
export function fetchTransport(fetchImpl?: FetchLike): Transport {
  return async function viaFetch(request) {
    const f = fetchImpl ?? (globalThis as unknown as { fetch?: FetchLike }).fetch;
    if (!f) throw new Error('No fetch on this platform: pass `transport` (wxTransport in a mini-program) or `fetch`');
    const res = await f(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
    return { status: res.status, headers, body: await res.text() };
  };
}

/** Header names in lower case, empty values dropped. */
export function lowerCaseHeaders(headers: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && value !== '') out[name.toLowerCase()] = value;
  return out;
}
