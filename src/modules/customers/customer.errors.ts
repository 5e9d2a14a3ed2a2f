import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/** 400 invalid_import_header: `field` names the header cell (`header[2]`) or the whole `header`. */
function importHeader(field: string, message: string): AppError {
  return sharedErrors.invalidImportHeader(field, message);
}

/**
 * The customers module's error codes and messages, one factory per refusal. `code` is the
 * contract with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const customerErrors = {
  /** 409: the tag limit of a profile (check constraint customer_tag_limit). */
  tooManyTags: (limit: number) => new AppError('conflict', 'too_many_tags', `A customer has at most ${limit} tags`, { limit }),

  /** 400: an import header names a column twice. */
  duplicateColumn: (field: string, name: string) => importHeader(field, `column ${name} appears twice`),

  /** 400: an import header names a consent column of no known channel. */
  unknownConsentChannel: (field: string, channel: string) => importHeader(field, `unknown consent channel ${channel} (sms, email, push)`),

  /** 400: an import header cell is not an attribute name. */
  badAttributeColumn: (field: string, cell: string) =>
    importHeader(field, `"${cell}" is not an attribute name (letters, digits, _ and -, at most 64)`),

  /** 400: an import header cell has an unknown type suffix. */
  badTypeSuffix: (field: string, cell: string) => importHeader(field, `"${cell}": the type suffix is one of :string, :number, :boolean, :json`),

  /** 400: an import header without a user_id column. */
  userIdColumnRequired: () => importHeader('header', 'a user_id column is required'),
};
