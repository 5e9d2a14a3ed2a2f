import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';
import type { AudienceType } from './audience.tables.js';

/** One fault of a rule, named by its node (`rule.and[1].or[0].op`). */
export interface RuleProblem {
  path: string;
  message: string;
}

/** 400 invalid_import_header about the first line of a member upload, as a whole (`header`). */
function importHeader(problem: string): AppError {
  return sharedErrors.invalidImportHeader('header', problem);
}

/**
 * The audiences module's error codes and messages, one factory per refusal. `code` is the
 * contract with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const audienceErrors = {
  /** 400: the rule breaks; names the first faulty node and lists up to 20. */
  invalidRule: (problems: readonly RuleProblem[]) => {
    const first = problems[0]!;
    return new AppError('invalid', 'invalid_rule', `${first.path}: ${first.message}`, {
      path: first.path,
      field: first.path,
      errors: problems.slice(0, 20),
    });
  },

  /**
   * 400 invalid_rule for a TAG or SEGMENT audience sent without a rule. Unlike `invalidRule` its
   * details carry no `errors` list (kept as it is answered today).
   */
  ruleRequired: (type: AudienceType) =>
    new AppError('invalid', 'invalid_rule', `rule: a ${type} audience needs a rule`, { path: 'rule', field: 'rule' }),

  /** 409: an audience's type is fixed once created. */
  typeLocked: (type: AudienceType) =>
    new AppError('conflict', 'audience_field_locked', 'audience_type cannot change; create another audience', {
      field: 'audience_type',
      audience_type: type,
    }),

  /** 409: members are added by id to LIST audiences only. */
  notList: (audienceId: string, type: AudienceType) =>
    new AppError('conflict', 'audience_not_list', `Audience ${audienceId} is ${type}; only LIST audiences have members added by id`, {
      audience_type: type,
    }),

  /** 409 audience_in_use: `campaignIds` the caller may see, `count` all of them (null: unknown). */
  inUse: (audienceId: string, campaignIds: string[], count: number | null) =>
    new AppError(
      'conflict',
      'audience_in_use',
      `Audience ${audienceId} is used by ${count ?? 'some'} campaign(s); point them at another audience or delete them (archive first) before deleting it`,
      { audience_id: audienceId, campaign_ids: campaignIds, campaign_count: count },
    ),

  /** 400: product_code names no app of the tenant (foreign key; the code is unknown only if the row did not set it). */
  unknownProductCode: (productCode: string | null | undefined) => sharedErrors.unknownProductCode(productCode == null ? [] : [productCode]),

  /** 400: a member upload's header names the user_id column twice. */
  duplicateUserIdColumn: () => importHeader('the user_id column appears more than once'),

  /** 400: a member upload's first line has several columns and none is user_id. */
  userIdColumnRequired: (columns: number) =>
    importHeader(`the first line has ${columns} columns and none is named user_id: send a header with a user_id column, or a single column of ids`),

  /** The error `err` of an upload that stopped part way, with how far it got added to its details. */
  withProgress: (err: AppError, progress: Record<string, number>) => new AppError(err.kind, err.code, err.message, { ...err.details, progress }),

  /** 503: a member upload stopped part way; rows up to `progress.stored_through_row` are stored. */
  uploadInterrupted: (progress: Record<string, number>) =>
    new AppError(
      'unavailable',
      'list_upload_interrupted',
      `The upload stopped after row ${progress.stored_through_row}; rows up to it are stored. Send the file again: ids already in the list are skipped.`,
      { progress },
    ),
};
