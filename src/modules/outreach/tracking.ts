import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed tracking tokens: a click (`c`), an open (`o`) or an unsubscribe (`u`) of one record,
 * with the link's index for clicks. Nothing is stored per link: the token carries the record and
 * the index into the run's link list, and a 96-bit HMAC so that nobody can forge one for a
 * record of another.
 */

export type TrackAction = 'c' | 'o' | 'u';

export interface TrackToken {
  action: TrackAction;
  recordId: string;
  link: number;
}

export interface Tracker {
  token(t: TrackToken): string;
  verify(token: string): TrackToken | null;
  /** The full public URL of a token: /t/{token} on the configured base. */
  url(t: TrackToken): string;
}

export function createTracker(key: Buffer, publicUrl: string): Tracker {
  const base = publicUrl.replace(/\/+$/, '');
  const mac = (body: string) => createHmac('sha256', key).update(`outreach-track:${body}`).digest().subarray(0, 12).toString('base64url');
  const tracker: Tracker = {
    token({ action, recordId, link }) {
      const body = `${action}.${recordId}.${link}`;
      return `${body}.${mac(body)}`;
    },
    verify(token) {
      const parts = token.split('.');
      if (parts.length !== 4) return null;
      const [action, recordId, link, sig] = parts as [string, string, string, string];
      if (action !== 'c' && action !== 'o' && action !== 'u') return null;
      if (!/^[0-9]{1,4}$/.test(link) || !/^[A-Za-z0-9_-]{1,80}$/.test(recordId)) return null;
      const expected = Buffer.from(mac(`${action}.${recordId}.${link}`));
      const given = Buffer.from(sig);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      return { action, recordId, link: Number(link) };
    },
    url(t) {
      return `${base}/t/${tracker.token(t)}`;
    },
  };
  return tracker;
}

const URL_IN_TEXT = /https?:\/\/[^\s"'<>()（）\]]+/g;

/** Literal http(s) URLs of template texts (not those built with Liquid): the links a run tracks. */
export function literalLinks(texts: readonly string[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(URL_IN_TEXT)) if (!m[0].includes('{{') && !m[0].includes('{%')) found.add(m[0]);
  }
  return [...found];
}

/** Replaces each known link in rendered text by its tracked URL (unknown URLs stay as they are). */
export function rewriteLinks(text: string, links: readonly string[], tracked: (index: number) => string): string {
  if (links.length === 0) return text;
  return text.replace(URL_IN_TEXT, (url) => {
    const index = links.indexOf(url);
    return index < 0 ? url : tracked(index);
  });
}
