/**
 * The referral hub: a campaign's referral settings, the keyless landing-page routes
 * (form, views, orders, payment, status, rewards), payment callbacks settled in one transaction
 * with the referrer's reward credited through the ledger, and the funnel.
 */
export { createReferralService, computeReward, normalizePhone, type ReferralService } from './referral.service.js';
export { createReferralPayments, REWARD_CAUSE, type ReferralPayments, type SettleOutcome } from './referral.payment.js';
export { createReferralGuard, type ReferralGuard, type ReferralPageLimits } from './referral.limits.js';
export { createHubCampaigns, type HubCampaigns } from './referral.hub-campaigns.js';
export { referralRoutes } from './referral.routes.js';
export { referralCallbackRoutes } from './referral.callback.routes.js';
export type { CallbackProvider, PaymentProviderPort, ProviderName, ReferralPorts, SyncJob, VerifiedPayment } from './referral.ports.js';
