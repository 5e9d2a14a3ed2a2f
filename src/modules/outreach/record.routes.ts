import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { marketingApiRoutes } from './marketing-api.routes.js';
import type { Outreach } from './outreach.module.js';
import { OutreachRecord, RECORD_CSV_COLUMNS, RecordExportQuery, RecordList, RecordListQuery, RecordParams, type RecordView } from './record.schemas.js';
import type { RecordService } from './record.service.js';

const tags = ['outreach'];

/** Message records (list, one, CSV export), and the product document's /api/marketing paths over the same services. */
export function recordRoutes(app: Api, deps: { outreach: Outreach; uow: UnitOfWork; records?: RecordService }): void {
  const records = deps.records ?? deps.outreach.records;

  app.get(
    '/v1/outreach/records',
    {
      schema: {
        tags,
        summary: 'List message records, newest first (latest run first, then the last written record)',
        description: 'from / to compare sent_at, or updated_at for a record never sent. Addresses are masked.',
        querystring: RecordListQuery,
        response: { 200: RecordList, ...errors(...authErrors) },
      },
    },
    async (request) => records.listRecords(request.actor!, request.query),
  );

  app.get(
    '/v1/outreach/records/export',
    {
      schema: {
        tags,
        summary: 'Stream the matching records as CSV (same filters as the list)',
        description: `Columns: ${RECORD_CSV_COLUMNS.join(', ')}; response as JSON text. Streamed page by page; any number of records.`,
        querystring: RecordExportQuery,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV with a header row' }), ...errors(...authErrors) },
      },
    },
    async (request, reply) => {
      const rows = await records.exportRecords(request.actor!, request.query);
      // pipeline, not pipe: a failure after the first page ends the response instead of escaping.
      const csv = pipeline(Readable.from(toCsvRecords(rows)), stringify({ header: true, columns: [...RECORD_CSV_COLUMNS] }), (err) => {
        if (err) request.log.warn({ err }, 'outreach record export ended early');
      });
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="outreach-records.csv"');
      // A stream is sent as is (no serialisation); the 200 schema above only documents it.
      return reply.send(csv as unknown as string);
    },
  );

  app.get(
    '/v1/outreach/records/:record_id',
    { schema: { tags, summary: 'A message record', params: RecordParams, response: { 200: OutreachRecord, ...errors(...authErrors, 404) } } },
    async (request) => records.getRecord(request.actor!, request.params.record_id),
  );

  marketingApiRoutes(app, { outreach: deps.outreach, uow: deps.uow, records });
}

async function* toCsvRecords(rows: AsyncIterable<RecordView>) {
  for await (const r of rows) yield { ...r, response: r.response === null ? '' : JSON.stringify(r.response) };
}
