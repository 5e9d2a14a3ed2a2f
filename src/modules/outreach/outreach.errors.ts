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

  /** 404: no outreach campaign of the tenant with this id. */
  campaignNotFound: (campaignId: string) => notFound('campaign', campaignId),

  /** 404: no run of the tenant with this id. */
  runNotFound: (runId: string) => notFound('run', runId),

  /** 404: no record of the tenant with this id. */
  recordNotFound: (recordId: string) => notFound('record', recordId),

  /** 404: no live provider of the tenant with this id. */
  providerNotFound: (providerId: string) => notFound('provider', providerId),

  /** 400: a campaign needs target_tags, target_segment_id or both. */
  emptyTargets: () => new AppError('invalid', 'empty_targets', 'target_tags or target_segment_id is required', { field: 'target_tags' }),

  /** 400: content, template_id or variants: exactly one way to say what is sent. */
  contentRequired: (message: string) => new AppError('invalid', 'content_required', message, { field: 'content' }),

  /** 400: a template or provider of another channel than the campaign's. */
  channelMismatch: (field: string, expected: string, actual: string) =>
    new AppError('invalid', 'channel_mismatch', `${field}: is for ${actual}, the campaign sends ${expected}`, { field, expected, actual }),

  /** 400: a cron expression that does not parse, or a time zone nobody knows. */
  invalidSchedule: (field: string, message: string) => new AppError('invalid', 'invalid_schedule', `${field}: ${message}`, { field }),

  /** 400: end_time not after start_time, or already past. */
  invalidTimes: (message: string) => new AppError('invalid', 'invalid_time_range', message, { field: 'end_time' }),

  /** 400: variants' keys repeat or percents exceed 100 (or do not reach 100 without a winner rule). */
  invalidVariants: (message: string) => new AppError('invalid', 'invalid_variants', message, { field: 'variants' }),

  /** 409: the campaign has started; only archive (and runs) change it now. */
  notEditable: (status: string) =>
    new AppError('conflict', 'campaign_not_editable', `The campaign is ${status}; it can be edited only while draft or scheduled`, { status }),

  /** 409: an archived campaign cannot be triggered or changed. */
  archived: () => new AppError('conflict', 'campaign_archived', 'The campaign is archived', { status: 'archived' }),

  /** 409: the campaign has a run in progress (pause or cancel it first). */
  running: (runId: string) => new AppError('conflict', 'campaign_running', `Run ${runId} is in progress; cancel it first`, { run_id: runId }),

  /** 409: a run action that its state does not allow (resume a completed run, pause a cancelled one). */
  runState: (action: string, status: string) =>
    new AppError('conflict', 'run_state_conflict', `Cannot ${action} a run that is ${status}`, { action, status }),

  /** 409: the tenant has no provider for the channel (create one, or name provider_id). */
  noProvider: (channel: string) =>
    new AppError('conflict', 'no_provider', `No ${channel} provider is configured; create one with is_default or name provider_id`, { channel }),

  /** 400: a provider kind this service does not know. */
  unknownProviderKind: (kind: string, known: string[]) =>
    new AppError('invalid', 'unknown_provider_kind', `kind: ${kind} is not one of ${known.join(', ')}`, { field: 'kind', known }),

  /** 400: the provider adapter refused the configuration. */
  providerConfigInvalid: (message: string) => new AppError('invalid', 'provider_config_invalid', message, { field: 'config' }),

  /** 401: a provider callback whose signature or token does not verify. */
  callbackUnverified: () => new AppError('unauthorized', 'callback_unverified', 'The callback signature does not verify', {}),

  /** 404: a tracking link whose signature does not verify (or that names nothing). */
  trackingInvalid: () => new AppError('not_found', 'tracking_link_invalid', 'This link is not valid', {}),
};
