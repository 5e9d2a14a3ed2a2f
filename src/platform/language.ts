/**
 * The language of an answer's messages, from Accept-Language: Chinese (zh, zh-CN, zh-Hans...)
 * when it weighs zh above en (or names zh alone), English otherwise. Error codes never change
 * with the language; only messages do.
 */
export function prefersChinese(header: string | undefined): boolean {
  if (!header) return false;
  let best: { zh: boolean; q: number } | null = null;
  for (const part of header.slice(0, 500).split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const isZh = tag.startsWith('zh');
    if ((isZh || tag.startsWith('en')) && (!best || q > best.q)) best = { zh: isZh, q };
  }
  return best?.zh ?? false;
}
