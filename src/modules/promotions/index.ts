export { createPromotionService, type PromotionService } from './promotion.service.js';
export { promotionRoutes } from './promotion.routes.js';
export { calculateDiscount, type Cart, type DiscountResult } from './promotion.rules.js';
