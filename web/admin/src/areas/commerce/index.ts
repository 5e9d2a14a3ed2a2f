/**
 * Commerce: coupon templates and a user's coupons, promotions (flash sales, spend-and-save,
 * free gifts), group-buy activities and their groups, and a quote simulator that prices a cart
 * the way checkout does and says why each offer left out was not applied.
 */
import { defineArea } from '../../areas';
import { en } from './messages.en';
import { zhCN } from './messages.zh-CN';


export default defineArea({
  order: 500,
  group: 'menuGroup.commerce',
  routes: [
    { path: '/commerce/coupons', name: 'commerce-coupons', component: () => import('./CouponTemplates.vue') },
    { path: '/commerce/coupons/new', name: 'commerce-coupons-new', component: () => import('./CouponTemplateEdit.vue'), meta: { roles: ['admin'] } },
    { path: '/commerce/coupons/wallet', name: 'commerce-coupons-wallet', component: () => import('./UserCoupons.vue') },
    { path: '/commerce/coupons/:id', name: 'commerce-coupons-detail', component: () => import('./CouponTemplateDetail.vue'), props: true },
    { path: '/commerce/coupons/:id/edit', name: 'commerce-coupons-edit', component: () => import('./CouponTemplateEdit.vue'), props: true, meta: { roles: ['admin'] } },
    { path: '/commerce/promotions', name: 'commerce-promotions', component: () => import('./Promotions.vue') },
    { path: '/commerce/promotions/new', name: 'commerce-promotions-new', component: () => import('./PromotionEdit.vue'), meta: { roles: ['admin'] } },
    { path: '/commerce/promotions/:id', name: 'commerce-promotions-detail', component: () => import('./PromotionDetail.vue'), props: true },
    { path: '/commerce/promotions/:id/edit', name: 'commerce-promotions-edit', component: () => import('./PromotionEdit.vue'), props: true, meta: { roles: ['admin'] } },
    { path: '/commerce/group-buys', name: 'commerce-group-buys', component: () => import('./GroupBuys.vue') },
    { path: '/commerce/group-buys/new', name: 'commerce-group-buys-new', component: () => import('./GroupBuyEdit.vue'), meta: { roles: ['admin'] } },
    { path: '/commerce/group-buys/:id', name: 'commerce-group-buys-detail', component: () => import('./GroupBuyDetail.vue'), props: true },
    { path: '/commerce/group-buys/:id/edit', name: 'commerce-group-buys-edit', component: () => import('./GroupBuyEdit.vue'), props: true, meta: { roles: ['admin'] } },
    { path: '/commerce/quote', name: 'commerce-quote', component: () => import('./QuoteSimulator.vue') },
  ],
  nav: [
    { route: 'commerce-coupons', label: 'commerce.nav.coupons' },
    { route: 'commerce-promotions', label: 'commerce.nav.promotions' },
    { route: 'commerce-group-buys', label: 'commerce.nav.groupBuys' },
    { route: 'commerce-quote', label: 'commerce.nav.quote' },
  ],
  messages: { en, 'zh-CN': zhCN },
});
