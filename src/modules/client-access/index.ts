export { clientAccessRoutes } from './client-access.routes.js';
export { createClientAccessService, normalizeOrigin, type ClientAccessService, type PublishableKeyInfo } from './client-access.service.js';
export { clientErrors } from './client-access.errors.js';
export { clientRules, createClientGuard, type ClientGuard, type ClientLimits, type ClientSubject } from './client-access.limits.js';
export type { EndUser } from './client-access.token.js';
