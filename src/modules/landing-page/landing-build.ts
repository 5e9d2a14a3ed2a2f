/**
 * Builds the landing page (web/landing, Vite + Vue) into web/landing/dist when it is missing or
 * older than its sources (platform/web-build.ts). `npm install` (prepare) and `npm start`
 * (prestart) run this file; the tests call `ensureLandingBuilt()`. Without Vite it says so and
 * leaves the service answering 503 landing_page_not_built.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { webBuild } from '../../platform/web-build.js';

const site = webBuild(fileURLToPath(new URL('../../../web/landing/', import.meta.url)), { timeoutMs: 180_000 });
export const LANDING_ROOT = site.root;
export const LANDING_DIST = site.dist;
export const landingIsStale = site.isStale;
export const ensureLandingBuilt = site.ensureBuilt;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outcome = await ensureLandingBuilt({ force: process.argv.includes('--force') });
  if (outcome === 'no_vite') console.warn('landing page: Vite is not installed (devDependencies omitted); /p/{campaign_id} answers 503 landing_page_not_built until `npm run build:web` runs');
  else console.log(`landing page: ${outcome === 'built' ? 'built into' : 'up to date in'} ${LANDING_DIST}`);
}
