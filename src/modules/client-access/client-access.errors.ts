import { AppError, type ErrorDetails } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/**
 * The client-access module's error codes (the contract of docs/clients.md): never change an
 * existing one. Every refusal of a client request is one of these or 429 rate_limited.
 */
export const clientErrors = {
  /** 401: the X-Publishable-Key names no active key. */
  publishableKeyInvalid: () => new AppError('unauthorized', 'publishable_key_invalid', 'The publishable key is unknown or revoked'),

  /** 401: the route acts for an end user and no `Authorization: Bearer <user token>` came. */
  userTokenRequired: () =>
    new AppError('unauthorized', 'user_token_required', 'This call acts for an end user: send the user token as `Authorization: Bearer <token>`'),

  /** 401: the token is malformed, signed by no key of the app, or breaks a rule (details.reason). */
  userTokenInvalid: (reason: string, details?: ErrorDetails) =>
    new AppError('unauthorized', 'user_token_invalid', `The user token is not valid (${reason})`, { reason, ...details }),

  /** 401: the token's exp has passed. */
  userTokenExpired: () => new AppError('unauthorized', 'user_token_expired', 'The user token has expired: get a new one from your backend'),

  /** 403: the page's Origin is not one the key allows. */
  originNotAllowed: (origin: string) =>
    new AppError('forbidden', 'origin_not_allowed', `Origin ${origin} is not allowed for this publishable key`, { origin }),

  /** 403: a server-only route called with a publishable key. */
  clientRouteNotAllowed: () =>
    new AppError('forbidden', 'client_route_not_allowed', 'This call needs a server API key; a publishable key may call the client routes only'),

  /** 403: the request names another user than the token's sub. */
  userMismatch: (field: string) =>
    new AppError('forbidden', 'user_mismatch', `${field} must be the user of the user token`, { field }),

  /** 403: X-Product-Code or the token's product_codes name another product than the key's app. */
  productNotAllowed: sharedErrors.productNotAllowed,

  /** 400: an origin that is not scheme://host[:port]. */
  invalidOrigin: (origin: string) =>
    new AppError('invalid', 'invalid_request', `allowed_origins: ${origin} is not an origin (scheme://host[:port], no path)`, { field: 'allowed_origins', origin }),

  /** 400: a public key that is not an Ed25519 SPKI PEM. */
  invalidPublicKey: () => new AppError('invalid', 'invalid_request', 'public_key: must be an Ed25519 public key in SPKI PEM form', { field: 'public_key' }),

  /** 400: EdDSA without a public key, or HS256 with one. */
  publicKeyField: (alg: string) =>
    new AppError('invalid', 'invalid_request', alg === 'EdDSA' ? 'public_key: required for EdDSA' : 'public_key: only for EdDSA (HS256 keys are generated)', { field: 'public_key' }),

  /** 400: a malformed X-Device-Id. */
  invalidDeviceId: () => new AppError('invalid', 'invalid_request', 'x-device-id: 1-128 printable ASCII characters', { field: 'x-device-id', location: 'headers' }),
};
