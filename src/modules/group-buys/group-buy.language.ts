import type { FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../../platform/errors.js';
import { groupBuyMessagesZh } from './group-buy.errors.js';

export type Language = 'en' | 'zh-CN';

/** The caller's preferred language of the two we answer in, by Accept-Language q-values; else `fallback`. */
export function preferredLanguage(header: string | undefined, fallback: Language): Language {
  if (!header) return fallback;
  let best: { lang: Language; q: number } | null = null;
  for (const part of header.slice(0, 500).split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const lang: Language | null = tag.startsWith('zh') ? 'zh-CN' : tag.startsWith('en') ? 'en' : null;
    if (lang && (!best || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? fallback;
}

/**
 * Runs a route's work and answers the module's refusals in the caller's language: the same
 * status, code and details, the message in zh-CN when Accept-Language prefers Chinese (or when
 * `fallback` is zh-CN and the header names neither language).
 */
export async function inLanguage<T>(request: FastifyRequest, fallback: Language, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isAppError(err)) throw err;
    const zh = groupBuyMessagesZh[err.code];
    if (zh === undefined) throw err;
    const lang = preferredLanguage(request.headers['accept-language'], fallback);
    if (lang !== 'zh-CN') throw err;
    throw new AppError(err.kind, err.code, zh, err.details);
  }
}
