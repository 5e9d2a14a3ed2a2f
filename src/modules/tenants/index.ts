export { createTenantService, type TenantService } from './tenant.service.js';
export { createApiKeyService, type ApiKeyService } from './api-key.service.js';
export { resolveMasterKey, MasterKeyRequiredError, type MasterKeyState } from './master-key.js';
export { tenantRoutes } from './tenant.routes.js';
export { type ChargeCodes, DEFAULT_QUOTA_TIME_ZONE } from './code-quota.js';
export type { TenantType } from './tenant.tables.js';
export type { CodeQuotaView } from './tenant.schemas.js';
export { CodeQuota } from './tenant.schemas.js';
