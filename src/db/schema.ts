/**
 * The Kysely view of the whole database, composed from each module's own table types so that
 * a module's tables are declared next to the code that owns them.
 */
import type { PlatformTables } from '../platform/platform.tables.js';
import type { TenantTables } from '../modules/tenants/tenant.tables.js';
import type { AppTables } from '../modules/apps/app.tables.js';
import type { CampaignTables } from '../modules/campaigns/campaign.tables.js';
import type { JobTables } from '../platform/jobs.tables.js';
import type { LedgerTables } from '../modules/ledger/ledger.tables.js';
import type { RewardTables } from '../modules/rewards/reward.tables.js';
import type { InventoryTables } from '../modules/inventory/inventory.tables.js';
import type { GrantTables } from '../modules/grants/grant.tables.js';
import type { RedeemCodeTables } from '../modules/redeem-codes/redeem-code.tables.js';
import type { CustomerTables } from '../modules/customers/customer.tables.js';
import type { AudienceTables } from '../modules/audiences/audience.tables.js';
import type { TaskTables } from '../modules/tasks/task.tables.js';
import type { OutreachTables } from '../modules/outreach/outreach.tables.js';
import type { GroupBuyTables } from '../modules/group-buys/group-buy.tables.js';
import type { CouponTables } from '../modules/coupons/coupon.tables.js';
import type { PromotionTables } from '../modules/promotions/promotion.tables.js';
import type { CheckoutTables } from '../modules/checkout/checkout.tables.js';
import type { ReferralTables } from '../modules/referrals/referral.tables.js';
import type { SyncTables } from '../modules/sync/sync.tables.js';
import type { WechatAuthTables } from '../modules/wechat-auth/wechat.tables.js';
import type { PaymentTables } from '../modules/payments/payment.tables.js';
import type { MediaTables } from '../modules/media/media.tables.js';
import type { ClientAccessTables } from '../modules/client-access/client-access.tables.js';
import type { OperatorTables } from '../modules/operators/operator.tables.js';

export interface DB
  extends PlatformTables,
    TenantTables,
    AppTables,
    CampaignTables,
    JobTables,
    LedgerTables,
    RewardTables,
    InventoryTables,
    GrantTables,
    RedeemCodeTables,
    CustomerTables,
    AudienceTables,
    TaskTables,
    OutreachTables,
    GroupBuyTables,
    CouponTables,
    PromotionTables,
    CheckoutTables,
    ReferralTables,
    SyncTables,
    WechatAuthTables,
    PaymentTables,
    MediaTables,
    ClientAccessTables,
    OperatorTables {}
