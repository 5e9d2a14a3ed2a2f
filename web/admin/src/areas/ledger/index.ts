/** A user's balances and ledger: look a user up, page through the entries, adjust a balance by hand. */
import { defineArea } from '../../areas';

const en = {
  ledgerArea: {
    nav: 'Balances',
    title: 'Balances and ledger',
    userId: 'User ID',
    lookup: 'Look up',
    balances: 'Balances',
    entries: 'Ledger entries',
    asset: 'Asset',
    entryType: 'Entry type',
    amount: 'Amount',
    balanceAfter: 'Balance after',
    cause: 'Cause',
    memo: 'Memo',
    at: 'At',
    adjust: 'Adjust a balance',
    adjustHint: 'Positive credits, negative debits; a balance never goes below zero.',
    reason: 'Reason',
    reasonRequired: 'Give a reason',
    amountRequired: 'Give an amount other than 0',
    submit: 'Adjust',
    adjusted: 'Balance adjusted',
    adminOnly: 'Only a tenant admin can adjust a balance',
    enterUser: 'Enter a user ID to see the balances and the ledger',
    assets: { POINTS: 'Points', BALANCE: 'Balance (minor units)', SUBSCRIPTION_DAYS: 'Subscription days' },
    types: { GRANT: 'Grant', REVOKE: 'Revoke', SPEND: 'Spend', EXPIRE: 'Expire', ADJUST: 'Adjust' },
  },
};

const zh: typeof en = {
  ledgerArea: {
    nav: '余额流水',
    title: '余额与流水',
    userId: '用户 ID',
    lookup: '查询',
    balances: '余额',
    entries: '流水',
    asset: '资产',
    entryType: '类型',
    amount: '变动',
    balanceAfter: '变动后余额',
    cause: '原因来源',
    memo: '备注',
    at: '时间',
    adjust: '调整余额',
    adjustHint: '正数增加，负数扣减；余额不会低于零。',
    reason: '原因',
    reasonRequired: '请填写原因',
    amountRequired: '请填写非 0 的数额',
    submit: '调整',
    adjusted: '余额已调整',
    adminOnly: '只有租户管理员可以调整余额',
    enterUser: '输入用户 ID 查看余额与流水',
    assets: { POINTS: '积分', BALANCE: '余额（最小货币单位）', SUBSCRIPTION_DAYS: '会员天数' },
    types: { GRANT: '发放', REVOKE: '撤销', SPEND: '消费', EXPIRE: '过期', ADJUST: '调整' },
  },
};

export default defineArea({
  order: 210,
  group: 'menuGroup.engagement',
  routes: [{ path: '/ledger', name: 'ledger', component: () => import('./LedgerPage.vue') }],
  nav: [{ route: 'ledger', label: 'ledgerArea.nav' }],
  messages: { en, 'zh-CN': zh },
});
