import { must, type TenantFixture } from '../../../../test/helpers/test-app.js';

/** The product document's form: a name, a phone, an age, a grade to pick, a date. */
export const FORM = {
  type: 'object',
  required: ['name', 'phone'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 50, title: '姓名' },
    phone: { type: 'string', pattern: '^1[3-9]\\d{9}$', title: '手机号' },
    age: { type: 'integer', minimum: 3, maximum: 99, title: '年龄' },
    grade: { type: 'string', enum: ['小学', '初中', '高中'], title: '年级' },
    date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', title: '日期' },
  },
  additionalProperties: false,
};

export const SETTINGS = {
  image_url: 'https://img.example.test/main.png',
  reward_rule: { type: 'fixed', amount: 1000 },
  payment: { amount: 9900, currency: 'CNY', provider: 'sandbox' },
};

let phoneSeq = 0;
/** A fresh valid mobile number per call. */
export const newPhone = () => `139${String(Date.now() % 1e4).padStart(4, '0')}${String(++phoneSeq % 1e4).padStart(4, '0')}`;

/** A published campaign with the form and referral settings (overrides merge into SETTINGS). */
export async function referralCampaign(t: TenantFixture, settings: Record<string, unknown> = {}, campaign: Record<string, unknown> = {}) {
  const created = must(
    await t.call(
      'POST',
      '/v1/campaigns',
      { campaign_name: '暑期编程课', campaign_type: 'PROMOTION', product_code: t.productCode, start_time: '2020-01-01T00:00:00Z', end_time: '2099-12-31T23:59:59Z', form_fields: FORM, ...campaign },
      { key: t.admin },
    ),
    201,
  ).body;
  const put = must(await t.call('PUT', `/v1/campaigns/${created.campaign_id}/referral`, { ...SETTINGS, ...settings }, { key: t.admin }), 200).body;
  must(await t.call('POST', `/v1/campaigns/${created.campaign_id}/publish`, undefined, { key: t.admin }), 200);
  return { campaignId: created.campaign_id as string, settings: put };
}

export const orderBody = (campaignId: string, phone: string, extra: Record<string, unknown> = {}) => ({
  campaign_id: campaignId,
  phone,
  form_data: { name: '张三', phone, age: 12, grade: '初中' },
  ...extra,
});
