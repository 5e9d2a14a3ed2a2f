import type { Readable } from 'node:stream';
import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { pgErrorCode } from '../../db/errors.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, invalidRequest, notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { datesOf } from './customer.dates.js';
import { limitedBody } from '../../platform/upload.js';
import { type ImportFormat, type ImportItem, readCsv, readNdjson } from './customer.import.js';
import * as repo from './customer.repo.js';
import {
  ATTRIBUTES_MAX_BYTES,
  CHANNELS,
  type CustomerListInput,
  type CustomerView,
  type ImportErrorType,
  type ImportReportType,
  type PutCustomerInput,
  type TagChangeInput,
} from './customer.schemas.js';

export type CustomerService = ReturnType<typeof createCustomerService>;

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const MAX_REPORTED_ERRORS = 1000;

export function toCustomerView(row: repo.CustomerRow): CustomerView {
  const consent = (row.consent ?? {}) as Record<string, { status: 'opt_in' | 'opt_out'; updated_at: string } | undefined>;
  const state = (channel: string) => consent[channel] ?? null;
  return {
    tenant_id: row.tenant_id,
    user_id: row.user_id,
    tags: row.tags,
    attributes: (row.attributes ?? {}) as Record<string, unknown>,
    consent: { sms: state('sms'), email: state('email'), push: state('push') },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The rules a PUT body and an import row share beyond their schema. */
function checkInput(input: PutCustomerInput): void {
  for (const key of Object.keys(input.attributes ?? {})) {
    if (!ATTRIBUTE_NAME.test(key)) {
      throw invalidRequest(`attributes.${key}`, 'attribute names are letters, digits, _ and - (starting with a letter or _), at most 64');
    }
  }
  if (input.attributes) {
    const size = Buffer.byteLength(JSON.stringify(input.attributes), 'utf8');
    if (size > ATTRIBUTES_MAX_BYTES) throw invalidRequest('attributes', `is ${size} bytes; the limit is ${ATTRIBUTES_MAX_BYTES}`);
  }
}

/** A PUT body as a profile write; consent changes are stamped with `now`. */
function toWrite(userId: string, input: PutCustomerInput, now: Date): repo.CustomerWrite {
  const attributes: Record<string, unknown> = {};
  const removeKeys: string[] = [];
  for (const [key, value] of Object.entries(input.attributes ?? {})) {
    if (value === null) removeKeys.push(key);
    else attributes[key] = value;
  }
  const consent: Record<string, unknown> = {};
  for (const channel of CHANNELS) {
    const status = input.consent?.[channel];
    if (status) consent[channel] = { status, updated_at: now.toISOString() };
  }
  return {
    user_id: userId,
    tags: input.tags ?? null,
    attributes,
    remove_keys: removeKeys,
    consent,
    written_keys: Object.keys(input.attributes ?? {}),
    dates: datesOf(attributes),
  };
}

/** Two writes of one user in one chunk become one: later values win, attributes merge by key. */
function mergeWrites(a: repo.CustomerWrite, b: repo.CustomerWrite): repo.CustomerWrite {
  const attributes = { ...a.attributes };
  for (const key of b.remove_keys) delete attributes[key];
  Object.assign(attributes, b.attributes);
  const removeKeys = [...a.remove_keys.filter((k) => !(k in b.attributes)), ...b.remove_keys];
  const touched = new Set(b.written_keys);
  const dates = Object.fromEntries(Object.entries(a.dates).filter(([path]) => !touched.has(path.split('.')[0]!)));
  return {
    user_id: a.user_id,
    tags: b.tags ?? a.tags,
    attributes,
    remove_keys: [...new Set(removeKeys)],
    consent: { ...a.consent, ...b.consent },
    written_keys: [...new Set([...a.written_keys, ...b.written_keys])],
    dates: { ...dates, ...b.dates },
  };
}

export interface CustomerServiceDeps {
  db: Database;
  clock: Clock;
  importChunkSize: number;
  importMaxBytes: number;
  imported: Counter<'result'>;
  /** Runs inside the erasing transaction: other modules forget the user (audience lists). */
  onErase?: (exec: Executor, tenantId: string, userId: string) => Promise<void>;
}

export function createCustomerService(deps: CustomerServiceDeps) {
  const { db, clock } = deps;

  return {
    /** Creates or updates a profile: attributes merged by key (null removes), tags replaced when given. */
    async putCustomer(actor: Actor, userId: string, input: PutCustomerInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      checkInput(input);
      const row = await repo.upsertCustomer(exec, tenant.tenantId, toWrite(userId, input, clock.now()), clock.now());
      return { customer: toCustomerView(row), created: row.created };
    },

    /** A page of the tenant's profiles (most recently changed first), filtered by user id prefix, tag, phone, e-mail. */
    async listCustomers(actor: Actor, query: CustomerListInput, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const page = toPage(query);
      const attributes: Record<string, string> = {};
      if (query.phone) attributes.phone = query.phone;
      if (query.email) attributes.email = query.email;
      const { rows, total } = await repo.listCustomers(exec, tenantId, { userIdPrefix: query.user_id, tag: query.tag, attributes }, page);
      return { customers: rows.map(toCustomerView), pagination: pagination(total, page) };
    },

    async getCustomer(actor: Actor, userId: string, exec: Executor = db): Promise<CustomerView> {
      const row = await repo.findCustomer(exec, requireTenant(actor).tenantId, userId);
      if (!row) throw notFound('customer', userId);
      return toCustomerView(row);
    },

    /** Erases the profile (tags, attributes, consent) and the user's place in audience lists. */
    async deleteCustomer(actor: Actor, userId: string, exec: Executor = db): Promise<void> {
      const tenantId = requireTenant(actor).tenantId;
      await inTransaction(exec, async (trx) => {
        const deleted = await repo.deleteCustomer(trx, tenantId, userId);
        if (deps.onErase) await deps.onErase(trx, tenantId, userId);
        if (!deleted) throw notFound('customer', userId);
      });
    },

    /** Adds and removes tags in one statement (creating the profile if needed); remove wins over add. */
    async changeTags(actor: Actor, userId: string, input: TagChangeInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const row = await repo.changeTags(exec, tenant.tenantId, userId, input.add ?? [], input.remove ?? [], clock.now());
      return { customer: toCustomerView(row), created: row.created };
    },

    /**
     * Imports a CSV or NDJSON stream: rows are read one at a time and written in chunks of
     * `importChunkSize`, each chunk one transaction of multi-row statements. A bad row is
     * reported with its line and never stops the others; a chunk the database refuses as a whole
     * is written again row by row so only its bad rows fail. Rows already committed stay if the
     * upload breaks off: every row is an upsert, so sending the file again is safe.
     */
    async importCustomers(actor: Actor, format: ImportFormat, body: Readable, exec: Executor = db): Promise<ImportReportType> {
      const tenantId = requireTenant(actor).tenantId;
      const limited = limitedBody(body, deps.importMaxBytes);
      const items: AsyncGenerator<ImportItem> = format === 'csv' ? readCsv(limited, checkInput) : readNdjson(limited, checkInput);
      const errors: ImportErrorType[] = [];
      let rows = 0;
      let imported = 0;
      let failed = 0;
      const fail = (e: ImportErrorType) => {
        failed += 1;
        if (errors.length < MAX_REPORTED_ERRORS) errors.push(e);
      };
      let chunk = new Map<string, { write: repo.CustomerWrite; lines: number[] }>();

      const flush = async () => {
        if (chunk.size === 0) return;
        const pending = chunk;
        chunk = new Map();
        const now = clock.now();
        const writes = [...pending.values()];
        try {
          await inTransaction(exec, (trx) => repo.upsertCustomers(trx, tenantId, writes.map((w) => w.write), now));
          imported += writes.reduce((n, w) => n + w.lines.length, 0);
        } catch {
          for (const w of writes) {
            try {
              await repo.upsertCustomer(exec, tenantId, w.write, now);
              imported += w.lines.length;
            } catch (err) {
              // A refusal of this row's data (ours, or the database's: classes 22 and 23) fails
              // the row; anything else (the database is down) fails the request.
              if (!(err instanceof AppError) && !/^2[23]/.test(pgErrorCode(err) ?? '')) throw err;
              const message = err instanceof AppError ? err.message : 'could not be stored';
              for (const line of w.lines) fail({ line, field: null, message });
            }
          }
        }
      };

      try {
        for await (const item of items) {
          rows += 1;
          if (!item.ok) {
            fail({ line: item.line, field: item.field, message: item.message });
            continue;
          }
          const write = toWrite(item.userId, item.input, clock.now());
          const existing = chunk.get(item.userId);
          if (existing) chunk.set(item.userId, { write: mergeWrites(existing.write, write), lines: [...existing.lines, item.line] });
          else chunk.set(item.userId, { write, lines: [item.line] });
          if (chunk.size >= deps.importChunkSize) await flush();
        }
        await flush();
      } finally {
        deps.imported.inc({ result: 'imported' }, imported);
        deps.imported.inc({ result: 'failed' }, failed);
      }
      errors.sort((a, b) => a.line - b.line);
      return { format, rows, imported, failed, errors, errors_truncated: failed > errors.length };
    },

    /** For other modules: a tenant's profile, or undefined. */
    findCustomer(tenantId: string, userId: string, exec: Executor = db) {
      return repo.findCustomer(exec, tenantId, userId);
    },
  };
}
