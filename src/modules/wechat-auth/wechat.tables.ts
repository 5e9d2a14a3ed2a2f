export interface WechatAppTable {
  tenant_id: string;
  app_id: string;
  name: string | null;
  /** The AppSecret, sealed (platform/secret-box.ts). */
  secret_sealed: string;
  created_at: Date;
  updated_at: Date;
}

export interface WechatAuthTables {
  wechat_app: WechatAppTable;
}
