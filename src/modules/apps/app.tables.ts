export interface AppTable {
  tenant_id: string;
  product_code: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

export interface AppTables {
  app: AppTable;
}
