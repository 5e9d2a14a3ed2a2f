import type { Transport } from './transport.js';

/** What the adapter passes to `wx.request` (the subset of its options it uses). */
export interface WxRequestOptions {
  url: string;
  method: string;
  header: Record<string, string>;
  data?: string;
  /** The body comes back as text; the SDK parses it. */
  responseType: 'text';
  /** Anything but 'json': wx.request must not parse the body itself. */
  dataType: 'text';
  timeout?: number;
  success(result: { statusCode: number; header: Record<string, string>; data: unknown }): void;
  fail(error: { errMsg: string; errno?: number }): void;
}

/** The parts of the mini-program's `wx` object the SDK uses. */
export interface WxLike {
  request(options: WxRequestOptions): unknown;
  getStorageSync?(key: string): unknown;
  setStorageSync?(key: string, value: string): void;
}

/** A transport error: no HTTP answer came back (wx.request's fail). */
export class WxRequestError extends Error {
  readonly errno: number | undefined;
  constructor(errMsg: string, errno?: number) {
    super(errMsg);
    this.name = 'WxRequestError';
    this.errno = errno;
  }
}

/**
 * The transport of a WeChat mini-program, over `wx.request`: method, header, the body as a string,
 * `responseType: 'text'`; the answer's statusCode and header; fail() becomes a thrown
 * WxRequestError, which the retry loop treats as a network error. (The service's host must be
 * a request domain of the mini-program, which WeChat requires to be https.)
 */
export function wxTransport(wx: WxLike, options: { timeoutMs?: number } = {}): Transport {
  return function viaWx(request) {
    return new Promise((resolve, reject) => {
      wx.request({
        url: request.url,
        method: request.method,
        header: request.headers,
        ...(request.body !== undefined ? { data: request.body } : {}),
        responseType: 'text',
        dataType: 'text',
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
        success(result) {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(result.header ?? {})) headers[name.toLowerCase()] = String(value);
          const body = typeof result.data === 'string' ? result.data : result.data === undefined || result.data === null ? '' : JSON.stringify(result.data);
          resolve({ status: result.statusCode, headers, body });
        },
        fail(error) {
          reject(new WxRequestError(error.errMsg, error.errno));
        },
      });
    });
  };
}
