import type { FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../../platform/errors.js';
import { type Language, preferredLanguage } from '../../platform/http/language.js';
import { groupBuyMessagesZh } from './group-buy.errors.js';

export { type Language, preferredLanguage };

/**
 * Runs a route's work and answers the module's refusals in the caller's language: the same
 * status, code and details, the message in zh-CN when Accept-Language prefers Chinese (or when
 * `fallback` is zh-CN and the header names neither language). Generic refusals (validation,
 * authentication, rate limits) are localized by the app's error handler.
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
