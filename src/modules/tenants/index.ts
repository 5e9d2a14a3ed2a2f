export { createTenantService, type TenantService } from './tenant.service.js';
export { createApiKeyService, type ApiKeyService } from './api-key.service.js';
export { resolveMasterKey, MasterKeyRequiredError, type MasterKeyState } from './master-key.js';
export { tenantRoutes } from './tenant.routes.js';
