import { AppError, type ErrorDetails } from '../../platform/errors.js';

/**
 * The payments module's error codes, one factory per refusal. `code` is the contract with the
 * callers and their clients: never change an existing one.
 */
export const paymentErrors = {
  /** 401: the Wechatpay-Signature does not verify over timestamp\nnonce\nbody\n (or is missing). */
  signatureInvalid: (message = 'The payment signature does not verify', details: ErrorDetails = {}) =>
    new AppError('unauthorized', 'payment_signature_invalid', message, details),

  /** 401: Wechatpay-Timestamp more than 5 minutes away from now (a replay or a stale message). */
  timestampStale: (timestamp: string | undefined, nowSeconds: number) =>
    new AppError('unauthorized', 'payment_timestamp_stale', 'The payment message timestamp is missing or more than 5 minutes old', {
      timestamp: timestamp ?? null,
      now: nowSeconds,
    }),

  /** 401: Wechatpay-Serial names no configured platform certificate. */
  certificateUnknown: (serial: string | undefined) =>
    new AppError('unauthorized', 'payment_certificate_unknown', 'The payment message is signed with an unknown certificate', {
      serial: serial ?? null,
    }),

  /** 400: the body is not a notice, or its resource does not decrypt (tampered, wrong key). */
  bodyInvalid: (message: string) => new AppError('invalid', 'payment_body_invalid', message),

  /** 503: the provider answered with an error (details carry its status and code). */
  providerError: (status: number, providerCode: string | undefined, providerMessage: string | undefined) =>
    new AppError('unavailable', 'payment_provider_error', `The payment provider refused: ${providerCode ?? status} ${providerMessage ?? ''}`.trim(), {
      status,
      provider_code: providerCode ?? null,
      provider_message: providerMessage ?? null,
    }),

  /** 503: the provider could not be reached or did not answer in time. */
  providerUnreachable: (message: string) =>
    new AppError('unavailable', 'payment_provider_unreachable', `The payment provider could not be reached: ${message}`),

  /** 503: the provider's answer is not signed correctly or lacks what was asked for. */
  responseInvalid: (message: string, details: ErrorDetails = {}) =>
    new AppError('unavailable', 'payment_response_invalid', message, details),

  /** 404: the sandbox does not know this out_trade_no (never started, or started before a restart). */
  tradeUnknown: (outTradeNo: string) =>
    new AppError('not_found', 'payment_trade_unknown', `No payment was started for ${outTradeNo}`, { out_trade_no: outTradeNo }),

  /** 400: a WeChat Pay credential does not parse or has the wrong shape (details.field names it). */
  credentialsInvalid: (field: string, message: string) =>
    new AppError('invalid', 'payment_credentials_invalid', `${field}: ${message}`, { field }),

  /** 404: the tenant has stored no WeChat Pay merchant credentials. */
  merchantNotFound: () => new AppError('not_found', 'payment_merchant_not_found', 'No WeChat Pay merchant credentials are stored for this tenant'),

  /** 401: the decrypted notice names another merchant (mchid) than the credentials that verified it. */
  merchantMismatch: (expected: string, got: unknown) =>
    new AppError('unauthorized', 'payment_merchant_mismatch', 'The payment message names another merchant than the credentials that verified it', {
      expected_mchid: expected,
      mchid: typeof got === 'string' ? got : null,
    }),
};
