export { createTemplateService, type TemplateService } from './template.service.js';
export { templateRoutes } from './template.routes.js';
export { renderTemplate, validateTemplate, TEMPLATE_CHANNELS, type TemplateChannel, type RenderVariables } from './template.render.js';
export { createOutreach, type Outreach, type OutreachSettings } from './outreach.module.js';
export { outreachMetrics } from './outreach.metrics.js';
export { outreachRoutes } from './outreach.routes.js';
