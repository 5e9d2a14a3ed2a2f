export { createPosterService, landingUrl, type PosterCampaign, type PosterService } from './poster.service.js';
export { posterRoutes } from './poster.routes.js';
export { POSTER_HEIGHT, POSTER_WIDTH } from './poster.render.js';
