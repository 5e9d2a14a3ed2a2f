export { createSyncService, type EnqueueSyncInput, SYNC_QUEUE, type SyncService } from './sync.service.js';
export { syncMetrics } from './sync.metrics.js';
export { syncRoutes } from './sync.routes.js';
