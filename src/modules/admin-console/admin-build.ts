/**
 * Builds the admin console (web/admin, Vite + Vue + Naive UI) into web/admin/dist when it is
 * missing or older than its sources (platform/web-build.ts, as for the landing page). `npm
 * install` (prepare) and `npm start` (prestart) run this file; the tests call `ensureAdminBuilt()`.
 * Without Vite it says so and leaves the service answering 503 admin_console_not_built.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { webBuild } from '../../platform/web-build.js';

const site = webBuild(fileURLToPath(new URL('../../../web/admin/', import.meta.url)), { timeoutMs: 300_000 });
export const ADMIN_ROOT = site.root;
export const ADMIN_DIST = site.dist;
export const adminIsStale = site.isStale;
export const ensureAdminBuilt = site.ensureBuilt;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outcome = await ensureAdminBuilt({ force: process.argv.includes('--force') });
  if (outcome === 'no_vite') console.warn('admin console: Vite is not installed (devDependencies omitted); /admin answers 503 admin_console_not_built until `npm run build:admin` runs');
  else console.log(`admin console: ${outcome === 'built' ? 'built into' : 'up to date in'} ${ADMIN_DIST}`);
}
