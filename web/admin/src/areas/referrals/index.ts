/**
 * The referral hub's console pages: orders (with each order's payment, attribution, rewards,
 * refund and sync), payments, users' reward balances, withdrawal approvals, sync to the customer's
 * database, and a campaign's funnel by channel.
 */
import { defineArea } from '../../areas';
import { en, zhCN } from './messages';

export default defineArea({
  order: 600,
  group: 'menuGroup.referrals',
  routes: [
    { path: '/referrals/orders', name: 'referrals-orders', component: () => import('./OrdersPage.vue') },
    { path: '/referrals/orders/:order_id', name: 'referrals-orders-detail', component: () => import('./OrderDetailPage.vue'), props: true },
    { path: '/referrals/payments', name: 'referrals-payments', component: () => import('./PaymentsPage.vue') },
    { path: '/referrals/rewards', name: 'referrals-rewards', component: () => import('./RewardsPage.vue') },
    { path: '/referrals/withdrawals', name: 'referrals-withdrawals', component: () => import('./WithdrawalsPage.vue') },
    { path: '/referrals/sync', name: 'referrals-sync', component: () => import('./SyncPage.vue') },
    { path: '/referrals/funnel', name: 'referrals-funnel', component: () => import('./FunnelPage.vue') },
  ],
  nav: [
    { route: 'referrals-orders', label: 'referralsArea.nav.orders' },
    { route: 'referrals-payments', label: 'referralsArea.nav.payments' },
    { route: 'referrals-rewards', label: 'referralsArea.nav.rewards' },
    { route: 'referrals-withdrawals', label: 'referralsArea.nav.withdrawals' },
    { route: 'referrals-sync', label: 'referralsArea.nav.sync' },
    { route: 'referrals-funnel', label: 'referralsArea.nav.funnel' },
  ],
  messages: { en, 'zh-CN': zhCN },
});
