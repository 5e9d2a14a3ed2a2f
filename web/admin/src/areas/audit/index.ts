/** The audit log: who changed what and when, sign-ins included; a tenant's admins see their tenant's, platform operators all. */
import { defineArea } from '../../areas';
import { en, zh } from './messages';

export default defineArea({
  order: 920,
  group: 'menuGroup.admin',
  routes: [{ path: '/audit', name: 'audit', meta: { scope: 'any', roles: ['admin'] }, component: () => import('./AuditPage.vue') }],
  nav: [{ route: 'audit', label: 'auditArea.nav', scope: 'any', roles: ['admin'] }],
  messages: { en, 'zh-CN': zh },
});
