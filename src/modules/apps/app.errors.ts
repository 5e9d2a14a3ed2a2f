import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/**
 * The apps module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one.
 */
export const appErrors = {
  /** 409: the tenant already has an app with this product code (unique index). */
  alreadyExists: (productCode: string) =>
    new AppError('conflict', 'app_already_exists', `An app with product_code ${productCode} already exists`, {
      product_code: productCode,
    }),

  /** 400: one or more product codes name no app of the tenant. */
  unknownProductCode: sharedErrors.unknownProductCode,

  /** 400: an update that changes nothing. */
  emptyUpdate: () => new AppError('invalid', 'invalid_request', 'body: send name, rate_limits or both', { field: 'name' }),

  /** 400: the body and the X-Product-Code header name different products. */
  productCodeMismatch: sharedErrors.productCodeMismatch,

  /** 400: neither the body nor the X-Product-Code header names a product. */
  productCodeRequired: () =>
    new AppError('invalid', 'invalid_request', 'product_code is required (in the body or the X-Product-Code header)', {
      field: 'product_code',
    }),

  /** 403: the API key is limited to other products. */
  productNotAllowed: sharedErrors.productNotAllowed,
};
