import { AppError, notFound } from '../../platform/errors.js';

/** The sync module's error codes, one factory per refusal. `code` is the contract with clients. */
export const syncErrors = {
  /** 404: no sync target of the tenant with this id. */
  targetNotFound: (targetId: string) => notFound('sync_target', targetId),

  /** 404: the order has no sync records (unknown to sync, or of another tenant). */
  orderNotFound: (orderId: string) => new AppError('not_found', 'sync_order_not_found', `No sync records for order ${orderId}`, { order_id: orderId }),

  /** 400: a mapping names a bad source path, table or column, or maps a column twice. */
  invalidMapping: (field: string, message: string) => new AppError('invalid', 'invalid_mapping', `${field}: ${message}`, { field }),

  /** 400: the target's host is a private address and webhooks.allow_private_networks is off. */
  privateHost: (host: string) =>
    new AppError('invalid', 'private_host_refused', `The host ${host} resolves to a private address; set webhooks.allow_private_networks to allow it`, { field: 'host' }),
};
