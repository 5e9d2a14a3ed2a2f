import { AppError } from '../../platform/errors.js';

/**
 * The partners module's error codes and messages. `code` is the contract with clients: never
 * change an existing one.
 */
export const partnerErrors = {
  /** 403: the partner flow is for CHANNEL tenants; a PLATFORM tenant creates the two apart. */
  channelOnly: (tenantId: string, tenantType: string) =>
    new AppError(
      'forbidden',
      'tenant_not_channel',
      `Tenant ${tenantId} is a ${tenantType} tenant: this call is for CHANNEL tenants (the master key sets tenant_type); create the campaign with POST /v1/campaigns and its codes with POST /v1/campaigns/{campaign_id}/redeem-codes`,
      { tenant_id: tenantId, tenant_type: tenantType },
    ),
};
