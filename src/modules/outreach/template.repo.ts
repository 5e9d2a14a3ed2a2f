import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { OutreachTemplateTable } from './outreach.tables.js';

export type TemplateRow = Selectable<OutreachTemplateTable>;

export function insertTemplate(db: Executor, row: Insertable<OutreachTemplateTable>): Promise<TemplateRow> {
  return db.insertInto('outreach_template').values(row).returningAll().executeTakeFirstOrThrow();
}

/** A live (not deleted) template of the tenant. */
export function findTemplate(db: Executor, tenantId: string, templateId: string): Promise<TemplateRow | undefined> {
  return db
    .selectFrom('outreach_template')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function listTemplates(db: Executor, tenantId: string, options: { limit: number; offset: number; channel?: string | undefined }) {
  let query = db.selectFrom('outreach_template').where('tenant_id', '=', tenantId).where('deleted_at', 'is', null);
  if (options.channel) query = query.where('channel', '=', options.channel);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('template_id', 'desc').limit(options.limit).offset(options.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function updateTemplate(
  db: Executor,
  tenantId: string,
  templateId: string,
  change: { name?: string; content?: string; defaults?: string; updated_by: string; updated_at: Date },
  /** Only if the row is still the version read (its updated_at): else nothing is written. */
  readAt: Date,
): Promise<TemplateRow | undefined> {
  return db
    .updateTable('outreach_template')
    .set(change)
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .where('deleted_at', 'is', null)
    .where('updated_at', '=', readAt)
    .returningAll()
    .executeTakeFirst();
}

export function softDeleteTemplate(db: Executor, tenantId: string, templateId: string, by: string, at: Date) {
  return db
    .updateTable('outreach_template')
    .set({ deleted_at: at, updated_at: at, updated_by: by })
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .where('deleted_at', 'is', null)
    .returning('template_id')
    .executeTakeFirst();
}
