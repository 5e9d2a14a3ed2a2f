export { createAppService, type AppService } from './app.service.js';
export { appRoutes } from './app.routes.js';
export type { AppRateLimitsType as AppRateLimits } from './app.schemas.js';
