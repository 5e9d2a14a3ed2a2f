/**
 * The referral campaign's landing page: the Vite + Vue page of web/landing, built into
 * web/landing/dist and served at /p/{campaign_id} with its assets under /p/assets/.
 */
export { landingPageRoutes, type LandingPageDeps } from './landing.routes.js';
export { ensureLandingBuilt, landingIsStale, LANDING_DIST, LANDING_ROOT } from './landing-build.js';
