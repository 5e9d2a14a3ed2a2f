-- A campaign's audience_id must name an audience of the same tenant (issue 17 item 5). Before
-- this, a made-up id, another tenant's id, or the id of an audience deleted later was stored, and
-- every trigger of the campaign's event type then failed for everyone. The key is in the
-- database, not only in the service, so a campaign update racing an audience delete cannot leave
-- a dangling reference: the update's key check takes a KEY SHARE lock on the audience row, the
-- delete takes it FOR UPDATE, and whichever comes second is refused.
--
-- Soft-deleted campaigns are gone from the API and nothing reads their audience, yet a key would
-- still count them and block the audience's delete with campaigns nobody can see or change. The
-- campaigns module clears audience_id when it soft-deletes a campaign; clear it here for the rows
-- deleted before.
update campaign set audience_id = null where deleted_at is not null and audience_id is not null;

-- NOT VALID: a database that already holds dangling references (rows stored before this fix)
-- still migrates. New rows and changed audience_ids are checked; the old dangling ones are
-- skipped at trigger time (reason audience_missing) until someone points them elsewhere.
-- RESTRICT, not CASCADE or SET NULL: silently widening a campaign to everyone would be worse than
-- refusing the delete (409 audience_in_use lists the campaigns).
alter table campaign
  add constraint campaign_audience_fk foreign key (tenant_id, audience_id)
  references audience (tenant_id, audience_id) on delete restrict not valid;

-- The key's check on an audience delete, and the list of campaigns in the 409, look campaigns up
-- by audience: without this index each audience delete would scan the tenant's campaigns.
create index campaign_audience on campaign (tenant_id, audience_id) where audience_id is not null;
