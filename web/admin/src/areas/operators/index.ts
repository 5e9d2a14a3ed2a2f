/** The console's operator accounts: a tenant's (its admins) or the platform's (platform operators). */
import { defineArea } from '../../areas';
import { en, zh } from './messages';

export default defineArea({
  order: 900,
  group: 'menuGroup.admin',
  routes: [{ path: '/operators', name: 'operators', meta: { scope: 'any', roles: ['admin'] }, component: () => import('./OperatorsPage.vue') }],
  nav: [{ route: 'operators', label: 'operatorsArea.nav', scope: 'any', roles: ['admin'] }],
  messages: { en, 'zh-CN': zh },
});
