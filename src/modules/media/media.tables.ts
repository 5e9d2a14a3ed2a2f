/** An uploaded image, by the SHA-256 of its stored (re-encoded, metadata-free) bytes. */
export interface MediaTable {
  media_id: string;
  content_type: string;
  ext: string;
  width: number;
  height: number;
  bytes: number;
  data: Buffer;
  created_at: Date;
}

/** Which tenant uploaded which image (the same image uploaded by two tenants is one media row). */
export interface MediaOwnerTable {
  tenant_id: string;
  media_id: string;
  created_at: Date;
}

export interface MediaTables {
  media: MediaTable;
  media_owner: MediaOwnerTable;
}
