import { AppError } from '../../platform/errors.js';

/** The landing page's error codes and messages. `code` is the contract with clients. */
export const landingErrors = {
  /** 503: web/landing/dist is missing (a checkout that has not run the build). */
  notBuilt: () => new AppError('unavailable', 'landing_page_not_built', 'The landing page is not built: run `npm run build:web` (npm install runs it)'),

  /** 404: no such built file under /p/assets/. */
  assetNotFound: (file: string) => new AppError('not_found', 'landing_asset_not_found', `No landing page asset named ${file}`, { file }),
};
