import { AppError, notFound } from '../../platform/errors.js';

/**
 * The outreach module's error codes, one factory per refusal. `code` is the contract with
 * clients: never change an existing one.
 */
export const outreachErrors = {
  /** 404: no live template of the tenant with this id (deleted and other tenants' look the same). */
  templateNotFound: (templateId: string) => notFound('template', templateId),

  /** 404: the preview names a user the tenant has no profile for. */
  customerNotFound: (userId: string) =>
    new AppError('not_found', 'customer_not_found', `customer ${userId} not found`, { user_id: userId }),

  /**
   * 400: a template field does not parse as Liquid or names a variable no send can supply.
   * `line` and `col` are 1-based, in the text as sent (bracket names included).
   */
  templateInvalid: (field: string, line: number, col: number, message: string) =>
    new AppError('invalid', 'template_invalid', `${field}: ${message} (line ${line}, col ${col})`, { field, line, col, message }),

  /** 400: a channel's length limit, counted in characters of the template text. */
  contentTooLong: (field: string, length: number, limit: number) =>
    new AppError('invalid', 'content_too_long', `${field} is ${length} characters; the limit is ${limit}`, { field, length, limit }),

  /** 409: the template kept changing under the update (after 3 attempts); retry. */
  concurrentUpdate: () => new AppError('conflict', 'concurrent_update', 'The template changed while updating; retry', {}),

  /** 400: an update that changes nothing. */
  emptyUpdate: () => new AppError('invalid', 'invalid_request', 'body: send name, content, defaults or a combination', { field: 'name' }),
};
