export { createGroupBuyService, GROUP_BUY_NOTIFY_QUEUE, type GroupBuyService } from './group-buy.service.js';
export { createGroupBuyNotifyHandler } from './group-buy.notify.js';
export { groupBuyMetrics } from './group-buy.metrics.js';
export { groupBuyRoutes } from './group-buy.routes.js';
export { groupBuyDocumentRoutes } from './group-buy.document.routes.js';
export { createGroupBuyGuard, type GroupBuyLimits } from './group-buy.limits.js';
