/** The menu's headings, under which areas fold their entries (an area's `group`). */
const en = {
  menuGroup: {
    engagement: 'Grants and tasks',
    customers: 'Customers',
    outreach: 'Outreach',
    commerce: 'Coupons and promotions',
    referrals: 'Referral hub',
    admin: 'Administration',
  },
};

export const groupsEn = en;
export const groupsZhCN: typeof en = {
  menuGroup: {
    engagement: '发放与任务',
    customers: '客户与人群',
    outreach: '营销触达',
    commerce: '优惠与促销',
    referrals: '分销中心',
    admin: '系统管理',
  },
};
