/** Tenants, for platform operators (the master scope): list, create, detail with API keys, code quota and operators. */
import { defineArea } from '../../areas';
import { en, zh } from './messages';

export default defineArea({
  order: 100,
  routes: [
    { path: '/tenants', name: 'tenants', meta: { scope: 'platform' }, component: () => import('./TenantsPage.vue') },
    { path: '/tenants/:id', name: 'tenants-detail', meta: { scope: 'platform' }, component: () => import('./TenantDetail.vue'), props: true },
  ],
  nav: [{ route: 'tenants', label: 'platformArea.nav', scope: 'platform' }],
  messages: { en, 'zh-CN': zh },
});
