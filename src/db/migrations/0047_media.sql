-- Media: uploaded images, stored in the database so every host serves them. The id is
-- the SHA-256 of the stored (re-encoded, metadata-free) bytes: the same image is one row, however
-- many tenants upload it; media_owner lists each tenant's uploads.
create table media (
  media_id text not null primary key,
  content_type text not null,
  ext text not null,
  width integer not null,
  height integer not null,
  bytes integer not null,
  data bytea not null,
  created_at timestamptz not null
);

create table media_owner (
  tenant_id text not null,
  media_id text not null references media (media_id),
  created_at timestamptz not null,
  primary key (tenant_id, media_id)
);

create index media_owner_recent on media_owner (tenant_id, created_at desc, media_id);
