export { createPromotionService, type PromotionService } from './promotion.service.js';
export { promotionRoutes } from './promotion.routes.js';
export { calculateDiscount, type Cart, type DiscountResult } from './promotion.rules.js';
export type { LivePromotion } from './promotion-live.js';
export type { ReservationView } from './promotion.schemas.js';
export { DEFAULT_RESERVATION_TTL_SECONDS, type ReserveLinesInput, type SettleAction } from './promotion-reservation.service.js';
export type { PromotionScope, PromotionTerms, PromotionType } from './promotion.tables.js';
