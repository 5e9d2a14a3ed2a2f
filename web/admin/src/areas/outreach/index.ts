/** Outreach: message templates, outreach campaigns (send, simulate, archive), runs, message records and stats. */
import { defineArea } from '../../areas';
import { messages } from './messages';

const write = { roles: ['admin', 'operator'] as ('admin' | 'operator')[] };

export default defineArea({
  order: 400,
  group: 'menuGroup.outreach',
  routes: [
    { path: '/outreach/templates', name: 'outreach-templates', component: () => import('./TemplatesPage.vue') },
    { path: '/outreach/campaigns', name: 'outreach-campaigns', component: () => import('./CampaignsPage.vue') },
    { path: '/outreach/campaigns/new', name: 'outreach-campaigns-new', meta: write, component: () => import('./CampaignEditPage.vue') },
    { path: '/outreach/campaigns/:id', name: 'outreach-campaigns-view', component: () => import('./CampaignPage.vue'), props: true },
    { path: '/outreach/campaigns/:id/edit', name: 'outreach-campaigns-edit', meta: write, component: () => import('./CampaignEditPage.vue'), props: true },
    { path: '/outreach/runs', name: 'outreach-runs', component: () => import('./RunsPage.vue') },
    { path: '/outreach/runs/:id', name: 'outreach-runs-view', component: () => import('./RunPage.vue'), props: true },
    { path: '/outreach/records', name: 'outreach-records', component: () => import('./RecordsPage.vue') },
    { path: '/outreach/stats', name: 'outreach-stats', component: () => import('./StatsPage.vue') },
    // Providers hold credentials: tenant admins only (the API refuses other roles).
    { path: '/outreach/providers', name: 'outreach-providers', meta: { roles: ['admin'] }, component: () => import('./ProvidersPage.vue') },
  ],
  nav: [
    { route: 'outreach-templates', label: 'outreachArea.nav.templates' },
    { route: 'outreach-campaigns', label: 'outreachArea.nav.campaigns' },
    { route: 'outreach-runs', label: 'outreachArea.nav.runs' },
    { route: 'outreach-records', label: 'outreachArea.nav.records' },
    { route: 'outreach-stats', label: 'outreachArea.nav.stats' },
    { route: 'outreach-providers', label: 'outreachArea.nav.providers', roles: ['admin'] },
  ],
  messages,
});
