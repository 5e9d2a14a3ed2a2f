/**
 * The console's two languages (zh-CN and en). The first choice is the browser's language, then
 * what the operator picked last (kept in localStorage).
 */
import { createI18n } from 'vue-i18n';
import { en } from './messages/en';
import { zhCN } from './messages/zh-CN';
import { AREAS } from './areas';
import { groupsEn, groupsZhCN } from './messages/groups';

export type Locale = 'zh-CN' | 'en';
const STORE = 'mh-admin-locale';

function initialLocale(): Locale {
  const kept = typeof localStorage === 'undefined' ? null : localStorage.getItem(STORE);
  if (kept === 'zh-CN' || kept === 'en') return kept;
  const langs = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language];
  return langs.some((l) => l.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  // The core texts and every area's (an area's keys sit beside the core's top-level keys).
  messages: {
    en: Object.assign({}, en, groupsEn, ...AREAS.map((a) => a.messages.en)),
    'zh-CN': Object.assign({}, zhCN, groupsZhCN, ...AREAS.map((a) => a.messages['zh-CN'])),
  },
});

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale;
}

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(STORE, locale);
  } catch {
    // private mode: the choice lasts for this page only
  }
}
