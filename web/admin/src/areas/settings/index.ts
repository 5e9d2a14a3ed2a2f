/** Tenant settings the API exposes: the apps' redemption quotas, the code quota (read-only) and the outreach providers' endpoints (read-only). */
import { defineArea } from '../../areas';
import { en, zh } from './messages';

export default defineArea({
  order: 910,
  group: 'menuGroup.admin',
  routes: [{ path: '/settings', name: 'settings', component: () => import('./SettingsPage.vue') }],
  nav: [{ route: 'settings', label: 'settingsArea.nav' }],
  messages: { en, 'zh-CN': zh },
});
