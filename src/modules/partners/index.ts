export { createPartnerService, type PartnerService } from './partner.service.js';
export { partnerRoutes } from './partner.routes.js';
