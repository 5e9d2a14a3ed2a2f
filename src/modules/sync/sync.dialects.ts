/**
 * The SQL each target type is sent, in one place: the idempotent INSERT of a mapped row and the
 * health check's column query. Identifiers are validated (IDENTIFIER below) before they reach
 * here and are then quoted in the dialect's way; values always travel as bind parameters.
 *
 * Idempotency (a retry never inserts twice) rests on a unique key on the target's key column:
 * - postgresql: `insert ... on conflict (key) do nothing`
 * - mysql / mariadb: `insert ... on duplicate key update key = key` (a no-op on a duplicate; unlike
 *   `insert ignore` it does not turn data errors into warnings)
 * - sqlserver: `insert ... select ... where not exists (... with (updlock, holdlock))`, the range
 *   lock closing the gap between the check and the insert
 * - oracle: `merge into ... when not matched then insert`
 */
import type { TargetType } from './sync.tables.js';

/** A column or table name: letters, digits and `_`, not starting with a digit, at most 63 characters. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** A table, optionally qualified by its schema (`schema.table`). */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

export type Dialect = 'postgresql' | 'mysql' | 'sqlserver' | 'oracle';

export function dialectOf(type: TargetType): Dialect {
  return type === 'mariadb' ? 'mysql' : type;
}

export interface Statement {
  sql: string;
  /** Positional values (postgresql `$n`, mysql `?`, sqlserver `@pN` in order, oracle `:bN` in order). */
  params: unknown[];
}

function assertIdentifier(name: string): void {
  if (!IDENTIFIER.test(name)) throw new Error(`not an SQL identifier: ${JSON.stringify(name)}`);
}

function assertTable(name: string): void {
  if (!TABLE_NAME.test(name)) throw new Error(`not an SQL table name: ${JSON.stringify(name)}`);
}

/**
 * Quotes a validated identifier. Oracle's are left unquoted so that Oracle folds them to upper
 * case as it does for tables created without quotes (the usual case).
 */
export function quote(dialect: Dialect, name: string): string {
  assertIdentifier(name);
  switch (dialect) {
    case 'postgresql':
      return `"${name}"`;
    case 'mysql':
      return `\`${name}\``;
    case 'sqlserver':
      return `[${name}]`;
    case 'oracle':
      return name.toUpperCase();
  }
}

export function quoteTable(dialect: Dialect, table: string): string {
  assertTable(table);
  return table.split('.').map((part) => quote(dialect, part)).join('.');
}

function placeholder(dialect: Dialect, index: number): string {
  switch (dialect) {
    case 'postgresql':
      return `$${index + 1}`;
    case 'mysql':
      return '?';
    case 'sqlserver':
      return `@p${index + 1}`;
    case 'oracle':
      return `:b${index + 1}`;
  }
}

/**
 * The INSERT of one row that inserts nothing when a row with the same key exists: `keyColumn`
 * gets `key`, then each of `columns` its value (same order).
 */
export function insertStatement(dialect: Dialect, table: string, keyColumn: string, key: string, columns: readonly string[], values: readonly unknown[]): Statement {
  if (columns.length !== values.length) throw new Error('columns and values differ in length');
  const names = [keyColumn, ...columns];
  if (new Set(names.map((n) => n.toLowerCase())).size !== names.length) throw new Error('a column appears twice');
  const t = quoteTable(dialect, table);
  const k = quote(dialect, keyColumn);
  const cols = names.map((n) => quote(dialect, n));
  const params = [key, ...values];
  const marks = params.map((_, i) => placeholder(dialect, i));
  switch (dialect) {
    case 'postgresql':
      return { sql: `insert into ${t} (${cols.join(', ')}) values (${marks.join(', ')}) on conflict (${k}) do nothing`, params };
    case 'mysql':
      return { sql: `insert into ${t} (${cols.join(', ')}) values (${marks.join(', ')}) on duplicate key update ${k} = ${k}`, params };
    case 'sqlserver':
      return {
        sql: `insert into ${t} (${cols.join(', ')}) select ${marks.join(', ')} where not exists (select 1 from ${t} with (updlock, holdlock) where ${k} = ${marks[0]})`,
        params,
      };
    case 'oracle': {
      const source = cols.map((c, i) => `${marks[i]} as ${c}`).join(', ');
      return {
        sql: `merge into ${t} d using (select ${source} from dual) s on (d.${k} = s.${k}) when not matched then insert (${cols.join(', ')}) values (${cols.map((c) => `s.${c}`).join(', ')})`,
        params,
      };
    }
  }
}

/** The names of the table's columns (the health check compares them with the mapping). */
export function columnsStatement(dialect: Dialect, table: string): Statement {
  assertTable(table);
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [null, table];
  switch (dialect) {
    case 'postgresql':
      return {
        sql: 'select column_name as name from information_schema.columns where table_schema = coalesce($1, current_schema()) and table_name = $2',
        params: [schema, name],
      };
    case 'mysql':
      return {
        sql: 'select column_name as name from information_schema.columns where table_schema = coalesce(?, database()) and table_name = ?',
        params: [schema, name],
      };
    case 'sqlserver':
      return {
        sql: 'select column_name as name from information_schema.columns where table_schema = coalesce(@p1, schema_name()) and table_name = @p2',
        params: [schema, name],
      };
    case 'oracle':
      return {
        sql: 'select column_name as name from all_tab_columns where owner = coalesce(:b1, user) and table_name = :b2',
        params: [schema?.toUpperCase() ?? null, name.toUpperCase()],
      };
  }
}

/**
 * How many single-column unique indexes (or primary / unique keys) the table has on `column`, as
 * `n`: the key column's idempotency rests on one, so the health check asks for it.
 */
export function uniqueKeyStatement(dialect: Dialect, table: string, column: string): Statement {
  assertTable(table);
  assertIdentifier(column);
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [null, table];
  switch (dialect) {
    case 'postgresql':
      return {
        sql:
          'select count(*)::int as n from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0] ' +
          "where i.indrelid = to_regclass(coalesce(quote_ident($1) || '.', '') || quote_ident($2)) and i.indisunique and i.indnatts = 1 and a.attname = $3",
        params: [schema, name, column],
      };
    case 'mysql':
      return {
        sql:
          'select count(*) as n from (select index_name from information_schema.statistics where table_schema = coalesce(?, database()) and table_name = ? and non_unique = 0 ' +
          'group by index_name having count(*) = 1 and max(column_name) = ?) k',
        params: [schema, name, column],
      };
    case 'sqlserver':
      return {
        sql:
          'select count(*) as n from sys.indexes i join sys.index_columns ic on ic.object_id = i.object_id and ic.index_id = i.index_id and ic.is_included_column = 0 ' +
          'join sys.columns c on c.object_id = ic.object_id and c.column_id = ic.column_id ' +
          "where i.object_id = object_id(coalesce(quotename(@p1) + '.', '') + quotename(@p2)) and i.is_unique = 1 and c.name = @p3 " +
          'and (select count(*) from sys.index_columns x where x.object_id = i.object_id and x.index_id = i.index_id and x.is_included_column = 0) = 1',
        params: [schema, name, column],
      };
    case 'oracle':
      return {
        sql:
          'select count(*) as n from all_indexes i join all_ind_columns c on c.index_owner = i.owner and c.index_name = i.index_name ' +
          "where i.table_owner = coalesce(:b1, user) and i.table_name = :b2 and i.uniqueness = 'UNIQUE' and c.column_name = :b3 " +
          'and (select count(*) from all_ind_columns x where x.index_owner = i.owner and x.index_name = i.index_name) = 1',
        params: [schema?.toUpperCase() ?? null, name.toUpperCase(), column.toUpperCase()],
      };
  }
}

/** Compares names as the dialect does for the identifiers above (Oracle's are upper-cased; the others here case-insensitively). */
export function sameColumn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
