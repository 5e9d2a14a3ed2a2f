/**
 * The language of answers: English, or Chinese (zh-CN) when the caller's Accept-Language prefers
 * it. Every `zh` tag counts as Chinese (`zh`, `zh-CN`, `zh-Hans`, also `zh-TW`: simplified Chinese
 * serves a Chinese reader better than English), every `en` tag as English; other tags and `*` are
 * ignored. The tag with the highest q-value wins (q=0 refuses a language; a malformed q is
 * ignored), the first listed among equals; with neither language named, `fallback`.
 */
export type Language = 'en' | 'zh-CN';

/** Longest Accept-Language header read (a longer one is cut, not refused). */
const MAX_HEADER = 500;

export function preferredLanguage(header: string | string[] | undefined, fallback: Language): Language {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return fallback;
  let best: { lang: Language; q: number } | null = null;
  for (const part of text.slice(0, MAX_HEADER).split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const lang: Language | null = tag === 'zh' || tag.startsWith('zh-') ? 'zh-CN' : tag === 'en' || tag.startsWith('en-') ? 'en' : null;
    if (lang && (!best || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? fallback;
}

/** Whether the caller prefers Chinese (English when neither is named). */
export function prefersChinese(header: string | string[] | undefined): boolean {
  return preferredLanguage(header, 'en') === 'zh-CN';
}
