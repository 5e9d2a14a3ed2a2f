import { AppError } from '../../platform/errors.js';

/** The admin console's error codes and messages. `code` is the contract with clients. */
export const adminConsoleErrors = {
  /** 503: web/admin/dist is missing (a checkout that has not run the build). */
  notBuilt: () => new AppError('unavailable', 'admin_console_not_built', 'The admin console is not built: run `npm run build:admin` (npm install and npm start run it)'),

  /** 404: no such built file under /admin/assets/. */
  assetNotFound: (file: string) => new AppError('not_found', 'admin_asset_not_found', `No admin console asset named ${file}`, { file }),
};
