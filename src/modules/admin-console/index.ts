/**
 * The admin console: the Vite + Vue 3 + Naive UI app of web/admin, built into web/admin/dist and
 * served at /admin (pages) and /admin/assets/ (hashed files). It calls the service's own /v1 API
 * with the operator's session cookie.
 */
export { adminConsoleRoutes, ADMIN_CSP, type AdminConsoleDeps } from './admin-console.routes.js';
export { adminIsStale, ensureAdminBuilt, ADMIN_DIST, ADMIN_ROOT } from './admin-build.js';
