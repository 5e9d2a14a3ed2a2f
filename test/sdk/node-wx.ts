import { request } from 'node:http';
import type { WxLike, WxRequestOptions } from '../../packages/sdk/src/index.js';

/**
 * A `wx` object for tests: wx.request as the mini-program documents it (url, method, header,
 * data, responseType 'text' -> success({statusCode, header, data}) or fail({errMsg})), performed
 * with node:http against the real service; storage in a Map. The platform itself cannot run here;
 * the server behind it is real.
 */
export function nodeWx(): WxLike & { calls: WxRequestOptions[]; storage: Map<string, string> } {
  const calls: WxRequestOptions[] = [];
  const storage = new Map<string, string>();
  return {
    calls,
    storage,
    getStorageSync: (key) => storage.get(key) ?? '',
    setStorageSync: (key, value) => void storage.set(key, value),
    request(options) {
      calls.push(options);
      const url = new URL(options.url);
      const req = request(
        { hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: options.method, headers: options.header },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (data += chunk));
          res.on('end', () => {
            const header: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) header[name] = Array.isArray(value) ? value.join(', ') : value;
            options.success({ statusCode: res.statusCode ?? 0, header, data: options.responseType === 'text' ? data : JSON.parse(data) });
          });
          res.on('error', (err) => options.fail({ errMsg: `request:fail ${err.message}` }));
        },
      );
      req.on('error', (err) => options.fail({ errMsg: `request:fail ${err.message}` }));
      if (options.data !== undefined) req.write(options.data);
      req.end();
      return { abort: () => req.destroy() };
    },
  };
}
