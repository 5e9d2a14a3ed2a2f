/**
 * The console is made of areas: each folder under areas/ brings its pages (routes), its menu
 * entries and its texts in both languages, and registers nothing anywhere else. The router, the
 * menu and i18n collect every `areas/<name>/index.ts` at build time, so a new area is one folder.
 */
import type { RouteRecordRaw } from 'vue-router';
import type { Operator } from './session';

/** Who may see a menu entry or open a page. */
export interface Audience {
  /** `tenant`: operators of a tenant (the default); `platform`: platform operators; `any`: both. */
  scope?: 'tenant' | 'platform' | 'any';
  /** The roles that see it; all roles when absent. */
  roles?: Operator['role'][];
}

export interface NavEntry extends Audience {
  /** The route name the entry opens; routes named `<key>` or `<key>-...` light it up. */
  route: string;
  /** An i18n key of the entry's label. */
  label: string;
}

type Texts = { [key: string]: string | Texts };

export interface ConsoleArea<M extends Texts = Texts> {
  /** Where its entries sit in the menu (the core pages are 0-99). */
  order: number;
  /** An i18n key: its entries fold under one menu heading of this name (areas may share one). */
  group?: string;
  /** Its pages: lazily imported components (one chunk each); `meta` may carry an Audience. */
  routes: RouteRecordRaw[];
  nav: NavEntry[];
  /** Its texts: zh-CN must have every key en has. */
  messages: { en: M; 'zh-CN': M };
}

/** Declares an area; the type makes zh-CN match en key for key. */
export function defineArea<M extends Texts>(area: ConsoleArea<M>): ConsoleArea<M> {
  return area;
}

const found = import.meta.glob<{ default: ConsoleArea }>('./areas/*/index.ts', { eager: true });

/** Every area, in menu order. */
export const AREAS: ConsoleArea[] = Object.values(found)
  .map((m) => m.default)
  .sort((a, b) => a.order - b.order);

/** Whether the signed-in operator belongs to an audience. */
export function admits(audience: Audience, operator: Operator | null): boolean {
  if (!operator) return false;
  const scope = audience.scope ?? 'tenant';
  if (scope === 'tenant' && !operator.tenant_id) return false;
  if (scope === 'platform' && operator.tenant_id) return false;
  return !audience.roles || audience.roles.includes(operator.role);
}
