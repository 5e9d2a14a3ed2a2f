export { createAppService, type AppService } from './app.service.js';
export { appRoutes } from './app.routes.js';
