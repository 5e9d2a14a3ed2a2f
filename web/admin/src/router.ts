/**
 * The console's pages, each loaded on demand (one chunk per page). Every page but sign-in needs a
 * session: the guard asks the API once, then sends a visitor without one to sign-in.
 */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { currentLocale } from './i18n';
import { AREAS, admits, type Audience } from './areas';
import { loadSession, session } from './session';

const routes: RouteRecordRaw[] = [
  { path: '/signin', name: 'signin', component: () => import('./pages/SignIn.vue'), meta: { public: true } },
  { path: '/', redirect: { name: 'dashboard' } },
  { path: '/dashboard', name: 'dashboard', component: () => import('./pages/Dashboard.vue') },
  { path: '/campaigns', name: 'campaigns', meta: { tenant: true }, component: () => import('./pages/Campaigns.vue') },
  { path: '/campaigns/new', name: 'campaign-new', meta: { tenant: true }, component: () => import('./pages/CampaignEdit.vue') },
  { path: '/campaigns/:id', name: 'campaign', meta: { tenant: true }, component: () => import('./pages/CampaignDetail.vue'), props: true },
  { path: '/campaigns/:id/edit', name: 'campaign-edit', meta: { tenant: true }, component: () => import('./pages/CampaignEdit.vue'), props: true },
  { path: '/rewards', name: 'rewards', meta: { tenant: true }, component: () => import('./pages/Rewards.vue') },
  { path: '/rewards/new', name: 'reward-new', meta: { tenant: true }, component: () => import('./pages/RewardCreate.vue') },
  { path: '/codes', name: 'codes', meta: { tenant: true }, component: () => import('./pages/Codes.vue') },
  { path: '/access', name: 'access', meta: { tenant: true }, component: () => import('./pages/Access.vue') },
  { path: '/password', name: 'password', component: () => import('./pages/Password.vue') },
  // Each area's pages; an area page is for tenant operators unless its meta says otherwise.
  ...AREAS.flatMap((area) => area.routes.map((r) => ({ ...r, meta: { scope: 'tenant', ...r.meta } }) as RouteRecordRaw)),
  { path: '/:rest(.*)*', redirect: { name: 'dashboard' } },
];

export const router = createRouter({ history: createWebHistory('/admin/'), routes });

router.beforeEach(async (to) => {
  if (!session.checked) await loadSession(currentLocale());
  if (to.meta.public) return to.name === 'signin' && session.operator ? { name: 'dashboard' } : true;
  if (!session.operator) return { name: 'signin', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  // A platform operator acts with the master scope, which the tenant pages' API calls refuse
  // (tenant_key_required): those pages are not offered to it.
  if (to.meta.tenant && !session.operator.tenant_id) return { name: 'dashboard' };
  if (to.meta.scope && !admits(to.meta as Audience, session.operator)) return { name: 'dashboard' };
  return true;
});

session.onExpired = () => void router.push({ name: 'signin', query: { next: router.currentRoute.value.fullPath } });
