import { describe, expect, it } from 'vitest';
import { columnsStatement, dialectOf, insertStatement, quoteTable, uniqueKeyStatement } from './sync.dialects.js';
import { mappingProblem, mapRecord } from './sync.mapping.js';

const columns = ['student_phone', 'student_name', 'order_amount', 'register_time'];
const values = ['13800000000', '张三', 9900, new Date('2026-12-07T10:00:00Z')];

describe('the idempotent INSERT of each dialect', () => {
  it('postgresql: insert ... on conflict (key) do nothing, $n parameters', () => {
    expect(insertStatement('postgresql', 'dmh_orders', 'dmh_order_id', 'ord_1', columns, values)).toEqual({
      sql: 'insert into "dmh_orders" ("dmh_order_id", "student_phone", "student_name", "order_amount", "register_time") values ($1, $2, $3, $4, $5) on conflict ("dmh_order_id") do nothing',
      params: ['ord_1', ...values],
    });
  });

  it('mysql and mariadb: insert ... on duplicate key update key = key, ? parameters', () => {
    expect(dialectOf('mariadb')).toBe('mysql');
    expect(insertStatement('mysql', 'crm.dmh_orders', 'dmh_order_id', 'ord_1', columns, values)).toEqual({
      sql: 'insert into `crm`.`dmh_orders` (`dmh_order_id`, `student_phone`, `student_name`, `order_amount`, `register_time`) values (?, ?, ?, ?, ?) on duplicate key update `dmh_order_id` = `dmh_order_id`',
      params: ['ord_1', ...values],
    });
  });

  it('sqlserver: insert ... select ... where not exists under updlock, holdlock, @pN parameters', () => {
    expect(insertStatement('sqlserver', 'dbo.dmh_orders', 'dmh_order_id', 'ord_1', columns, values)).toEqual({
      sql:
        'insert into [dbo].[dmh_orders] ([dmh_order_id], [student_phone], [student_name], [order_amount], [register_time]) select @p1, @p2, @p3, @p4, @p5 ' +
        'where not exists (select 1 from [dbo].[dmh_orders] with (updlock, holdlock) where [dmh_order_id] = @p1)',
      params: ['ord_1', ...values],
    });
  });

  it('oracle: merge ... when not matched then insert, :bN parameters, names folded to upper case', () => {
    expect(insertStatement('oracle', 'dmh_orders', 'dmh_order_id', 'ord_1', columns, values)).toEqual({
      sql:
        'merge into DMH_ORDERS d using (select :b1 as DMH_ORDER_ID, :b2 as STUDENT_PHONE, :b3 as STUDENT_NAME, :b4 as ORDER_AMOUNT, :b5 as REGISTER_TIME from dual) s ' +
        'on (d.DMH_ORDER_ID = s.DMH_ORDER_ID) when not matched then insert (DMH_ORDER_ID, STUDENT_PHONE, STUDENT_NAME, ORDER_AMOUNT, REGISTER_TIME) ' +
        'values (s.DMH_ORDER_ID, s.STUDENT_PHONE, s.STUDENT_NAME, s.ORDER_AMOUNT, s.REGISTER_TIME)',
      params: ['ord_1', ...values],
    });
  });

  it('refuses anything that is not an identifier, in every dialect, before any SQL is built', () => {
    for (const dialect of ['postgresql', 'mysql', 'sqlserver', 'oracle'] as const) {
      expect(() => insertStatement(dialect, 't; drop table x', 'k', 'v', [], [])).toThrow(/table name/);
      expect(() => insertStatement(dialect, 't', 'k"', 'v', [], [])).toThrow(/identifier/);
      expect(() => insertStatement(dialect, 't', 'k', 'v', ['a`b'], [1])).toThrow(/identifier/);
      expect(() => insertStatement(dialect, 't', 'k', 'v', ['a]'], [1])).toThrow(/identifier/);
      expect(() => insertStatement(dialect, 't', 'k', 'v', ['K'], [1])).toThrow(/twice/);
      expect(() => quoteTable(dialect, 'a.b.c')).toThrow(/table name/);
    }
  });
});

describe('the health check column query of each dialect', () => {
  it('asks information_schema (all_tab_columns on oracle) with bound names', () => {
    expect(columnsStatement('postgresql', 'dmh_orders')).toEqual({
      sql: 'select column_name as name from information_schema.columns where table_schema = coalesce($1, current_schema()) and table_name = $2',
      params: [null, 'dmh_orders'],
    });
    expect(columnsStatement('mysql', 'crm.dmh_orders').params).toEqual(['crm', 'dmh_orders']);
    expect(columnsStatement('mysql', 'crm.dmh_orders').sql).toContain('coalesce(?, database())');
    expect(columnsStatement('sqlserver', 'dmh_orders').sql).toContain('coalesce(@p1, schema_name()) and table_name = @p2');
    expect(columnsStatement('oracle', 'crm.dmh_orders')).toEqual({
      sql: 'select column_name as name from all_tab_columns where owner = coalesce(:b1, user) and table_name = :b2',
      params: ['CRM', 'DMH_ORDERS'],
    });
  });
});

describe('the health check unique key query of each dialect', () => {
  it('counts single-column unique indexes on the key column, names bound', () => {
    const pg = uniqueKeyStatement('postgresql', 'crm.dmh_orders', 'dmh_order_id');
    expect(pg.sql).toContain("to_regclass(coalesce(quote_ident($1) || '.', '') || quote_ident($2)) and i.indisunique and i.indnatts = 1 and a.attname = $3");
    expect(pg.params).toEqual(['crm', 'dmh_orders', 'dmh_order_id']);
    const my = uniqueKeyStatement('mysql', 'dmh_orders', 'dmh_order_id');
    expect(my.sql).toContain('non_unique = 0 group by index_name having count(*) = 1 and max(column_name) = ?');
    expect(my.params).toEqual([null, 'dmh_orders', 'dmh_order_id']);
    const ms = uniqueKeyStatement('sqlserver', 'dbo.dmh_orders', 'dmh_order_id');
    expect(ms.sql).toContain("object_id(coalesce(quotename(@p1) + '.', '') + quotename(@p2)) and i.is_unique = 1 and c.name = @p3");
    expect(ms.params).toEqual(['dbo', 'dmh_orders', 'dmh_order_id']);
    const ora = uniqueKeyStatement('oracle', 'dmh_orders', 'dmh_order_id');
    expect(ora.sql).toContain("i.table_owner = coalesce(:b1, user) and i.table_name = :b2 and i.uniqueness = 'UNIQUE' and c.column_name = :b3");
    expect(ora.params).toEqual([null, 'DMH_ORDERS', 'DMH_ORDER_ID']);
    expect(() => uniqueKeyStatement('postgresql', 't', 'k k')).toThrow(/identifier/);
  });
});

describe('the field mapping', () => {
  const mapping = {
    table: 'dmh_orders',
    key_column: 'dmh_order_id',
    fields: { 'orders.phone': 'student_phone', 'orders.form_data.name': 'student_name', 'orders.amount': 'order_amount', 'orders.created_at': 'register_time' },
  };

  it("maps the document's example: phone, form_data.name, amount, created_at (a timestamp becomes a Date)", () => {
    const record = { id: 'ord_1', phone: '13800000000', form_data: { name: '张三', grade: 3 }, amount: 9900, created_at: '2026-12-07T10:00:00.000Z' };
    expect(mapRecord('order', mapping, record)).toEqual({ columns, values: ['13800000000', '张三', 9900, new Date('2026-12-07T10:00:00Z')] });
    expect(mappingProblem('order', mapping)).toBeNull();
  });

  it('missing fields become null; objects become JSON text', () => {
    const out = mapRecord('order', { ...mapping, fields: { 'orders.form_data': 'form_json', 'orders.form_data.nope': 'x', 'phone': 'p' } }, { form_data: { a: 1 } });
    expect(out.values).toEqual(['{"a":1}', null, null]);
  });

  it('refuses bad paths, columns, a column mapped twice, and reward paths in an order mapping', () => {
    expect(mappingProblem('order', { ...mapping, fields: { 'orders.phone': 'a b' } })?.message).toMatch(/column name/);
    expect(mappingProblem('order', { ...mapping, fields: { 'orders..phone': 'a' } })?.message).toMatch(/source path/);
    expect(mappingProblem('order', { ...mapping, fields: { 'orders.phone': 'a', 'orders.amount': 'A' } })?.message).toMatch(/twice/);
    expect(mappingProblem('order', { ...mapping, fields: { 'orders.phone': 'dmh_order_id' } })?.message).toMatch(/twice/);
    expect(mappingProblem('order', { ...mapping, fields: { 'rewards.amount': 'a' } })?.message).toMatch(/reward records/);
    expect(mappingProblem('order', { ...mapping, fields: {} })?.message).toMatch(/at least one/);
  });
});
