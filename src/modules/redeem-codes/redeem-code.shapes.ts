/**
 * Recognising typed codes without touching the code table. Each tenant's batches have a handful
 * of distinct shapes (prefix, type, length, alphabet, check character); input that fits none of
 * them cannot be a code, and input whose check character is wrong was mistyped. Both are refused
 * from memory, so brute force and typos never reach the million-row index.
 *
 * The shapes are cached per tenant. A batch created in this process refreshes its tenant at once;
 * one created by another process is seen at the next miss after `reloadMs` (default 1 s), so its
 * codes may be refused as not found for at most that long after the batch was created.
 */
import { type CodeRule, matchShape } from './redeem-code.rules.js';

export type Recognition = { kind: 'match'; rules: CodeRule[] } | { kind: 'bad_check' } | { kind: 'none' };

interface Entry {
  rules: CodeRule[];
  loadedAt: number;
}

const MAX_TENANTS = 10_000;

export function createShapeCache(deps: { load: (tenantId: string) => Promise<CodeRule[]>; reloadMs: number; now?: () => number }) {
  const now = deps.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry>>();

  function load(tenantId: string): Promise<Entry> {
    let pending = loading.get(tenantId);
    if (!pending) {
      pending = deps
        .load(tenantId)
        .then((rules) => {
          const entry = { rules, loadedAt: now() };
          entries.delete(tenantId);
          if (entries.size >= MAX_TENANTS) entries.delete(entries.keys().next().value!);
          entries.set(tenantId, entry);
          return entry;
        })
        .finally(() => loading.delete(tenantId));
      loading.set(tenantId, pending);
    }
    return pending;
  }

  function classify(rules: CodeRule[], input: string): Recognition {
    const matched: CodeRule[] = [];
    let badCheck = false;
    for (const rule of rules) {
      const m = matchShape(input, rule);
      if (m === 'match') matched.push(rule);
      else if (m === 'bad_check') badCheck = true;
    }
    if (matched.length) return { kind: 'match', rules: matched };
    return badCheck ? { kind: 'bad_check' } : { kind: 'none' };
  }

  return {
    /** Which of the tenant's shapes `input` fits; reloads the shapes once on a miss if they are older than reloadMs. */
    async recognize(tenantId: string, input: string): Promise<Recognition> {
      let entry = entries.get(tenantId) ?? (await load(tenantId));
      let result = classify(entry.rules, input);
      if (result.kind !== 'match' && now() - entry.loadedAt >= deps.reloadMs) {
        entry = await load(tenantId);
        result = classify(entry.rules, input);
      }
      return result;
    },
    /** Forget a tenant's shapes (a batch was just created in this process). */
    invalidate(tenantId: string): void {
      entries.delete(tenantId);
    },
  };
}

export type ShapeCache = ReturnType<typeof createShapeCache>;
