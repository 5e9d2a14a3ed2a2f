import { AppError, invalidRequest } from '../../platform/errors.js';

/**
 * The operators module's error codes and messages (operator accounts, console sessions, the
 * audit log). `code` is the contract with clients: never change an existing one.
 */
export const operatorErrors = {
  /** 401: unknown e-mail, wrong password or disabled account: one answer for all three. */
  invalidCredentials: () => new AppError('unauthorized', 'invalid_credentials', 'Wrong e-mail or password'),

  /** 429: too many failed sign-ins for this e-mail or from this address. */
  locked: (retryAfterMs: number) => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return new AppError('rate_limited', 'operator_locked', `Too many failed sign-ins; retry in ${seconds} s`, {
      retry_after_seconds: seconds,
    });
  },

  /** 401: no session cookie, or its session ended (signed out, expired, password changed). */
  notSignedIn: () => new AppError('unauthorized', 'not_signed_in', 'Sign in first: no valid console session'),

  /** 403: a cookie-authenticated write without the session's X-CSRF-Token. */
  csrfInvalid: () => new AppError('forbidden', 'csrf_token_invalid', 'Send the X-CSRF-Token header of the session with every change'),

  /** 403: the current password given to a password change is wrong. */
  currentPasswordInvalid: () => new AppError('forbidden', 'current_password_invalid', 'The current password is wrong'),

  /** 409: the tenant (or the platform) already has an operator with this e-mail (unique index). */
  emailTaken: (email: string) => new AppError('conflict', 'operator_email_taken', `An operator with e-mail ${email} already exists`, { email }),

  /** 400: a password shorter than the minimum (the CLI; HTTP bodies are checked by their schema). */
  passwordTooShort: (field: string, min: number) => invalidRequest(field, `must be at least ${min} characters`),

  /** 409: an operator disabling, deleting or demoting its own account (it would sign itself out of its rights). */
  ownAccount: () =>
    new AppError('conflict', 'operator_own_account', 'An operator cannot disable, delete or change the role of its own account; ask another admin'),

  /** 400: a PATCH that changes nothing. */
  emptyUpdate: () => invalidRequest('body', 'send name, role, disabled or password'),

  /** 403: a tenant caller naming the platform scope. */
  platformOnly: () => new AppError('forbidden', 'master_key_required', 'Only the master key or a platform operator manages platform operators'),
};
