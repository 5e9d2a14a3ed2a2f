/**
 * What the commerce pages share: money (the API's integer minor units shown and typed as
 * major units with two decimals), the write gate (the API lets only admins change coupons,
 * promotions and group-buys) and the item-scope form.
 */
import { session } from '../../session';

/** Whether the signed-in operator may create, change, end or issue (the API refuses the others with 403). */
export const canWrite = (): boolean => session.operator?.role === 'admin';

/** Minor units as major units with two decimals (12345 -> "123.45"). */
export function money(minor: number | null | undefined): string {
  if (minor === null || minor === undefined) return '—';
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A major-unit amount typed in a form, as the API's minor units (null stays null). */
export function toMinor(major: number | null | undefined): number | null {
  return major === null || major === undefined ? null : Math.round(major * 100);
}

export function toMajor(minor: number | null | undefined): number | null {
  return minor === null || minor === undefined ? null : minor / 100;
}

/** A rate (0..1, null) as a percentage. */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(2)}%`;
}

/** Ids typed in one field, separated by commas, spaces or new lines. */
export function idList(text: string): string[] {
  return [...new Set(text.split(/[\s,，]+/).map((s) => s.trim()).filter(Boolean))];
}

/** Which items an offer covers, as the API takes it. */
export interface Scope {
  all?: boolean | undefined;
  item_ids?: string[] | undefined;
  category_ids?: string[] | undefined;
  exclude_item_ids?: string[] | undefined;
}

/** The scope form: all items, or item and category ids; excluded items always win. */
export interface ScopeForm {
  all: boolean;
  items: string;
  categories: string;
  exclude: string;
}

export const emptyScope = (): ScopeForm => ({ all: true, items: '', categories: '', exclude: '' });

export function scopeForm(scope: Scope | undefined): ScopeForm {
  return {
    all: scope?.all ?? !(scope?.item_ids?.length || scope?.category_ids?.length),
    items: (scope?.item_ids ?? []).join(', '),
    categories: (scope?.category_ids ?? []).join(', '),
    exclude: (scope?.exclude_item_ids ?? []).join(', '),
  };
}

export function scopeBody(form: ScopeForm): Scope {
  const exclude = idList(form.exclude);
  const out: Scope = form.all ? { all: true } : { item_ids: idList(form.items), category_ids: idList(form.categories) };
  if (exclude.length) out.exclude_item_ids = exclude;
  return out;
}

/** A date picker's value (epoch ms) as the API's ISO instant. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
export const ms = (value: string | null | undefined): number | null => (value ? new Date(value).getTime() : null);

/** The tag colour of a promotion's or an activity's phase (scheduled, active, ended). */
export const phaseTag = (phase: string): 'info' | 'success' | 'default' => (phase === 'active' ? 'success' : phase === 'scheduled' ? 'info' : 'default');
