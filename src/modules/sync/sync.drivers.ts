/**
 * Connections to the customers' databases: one pool per target (and settings version) kept in the
 * process, opened on first use and closed on shutdown or when the target changes. Drivers: pg for
 * postgresql, mysql2 for mysql and mariadb, mssql (tedious) for sqlserver, oracledb in thin mode
 * (no Oracle client libraries) for oracle. The last two are loaded only when a target needs them.
 */
import type { Dialect, Statement } from './sync.dialects.js';

export interface ConnectionSettings {
  dialect: Dialect;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: boolean;
  poolMax: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export interface TargetConnection {
  /** Runs one statement (autocommit): the rows it returned and the rows it changed. */
  run(statement: Statement): Promise<{ rows: Record<string, unknown>[]; affected: number }>;
  close(): Promise<void>;
}

async function openPostgres(s: ConnectionSettings): Promise<TargetConnection> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    ssl: s.ssl ? { rejectUnauthorized: false } : false,
    max: s.poolMax,
    connectionTimeoutMillis: s.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    query_timeout: s.queryTimeoutMs,
  });
  // An idle connection the server (or the network) dropped must not crash the process.
  pool.on('error', () => {});
  return {
    async run({ sql, params }) {
      const result = await pool.query(sql, params);
      return { rows: result.rows as Record<string, unknown>[], affected: result.rowCount ?? 0 };
    },
    close: () => pool.end(),
  };
}

async function openMysql(s: ConnectionSettings): Promise<TargetConnection> {
  const mysql = await import('mysql2/promise');
  const pool = mysql.createPool({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    ...(s.ssl ? { ssl: { rejectUnauthorized: false } } : {}),
    connectionLimit: s.poolMax,
    connectTimeout: s.connectTimeoutMs,
    // Dates are written in UTC, whatever the process's time zone.
    timezone: 'Z',
    enableKeepAlive: true,
  });
  return {
    async run({ sql, params }) {
      const [result] = await pool.query({ sql, values: params, timeout: s.queryTimeoutMs });
      if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], affected: 0 };
      return { rows: [], affected: (result as { affectedRows?: number }).affectedRows ?? 0 };
    },
    close: () => pool.end(),
  };
}

async function openSqlServer(s: ConnectionSettings): Promise<TargetConnection> {
  const { default: mssql } = await import('mssql');
  const pool = new mssql.ConnectionPool({
    server: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    options: { encrypt: s.ssl, trustServerCertificate: true },
    pool: { max: s.poolMax, min: 0 },
    connectionTimeout: s.connectTimeoutMs,
    requestTimeout: s.queryTimeoutMs,
  });
  pool.on('error', () => {});
  let connecting: Promise<unknown> | null = null;
  return {
    async run({ sql, params }) {
      if (!pool.connected) await (connecting ??= pool.connect().finally(() => (connecting = null)));
      const request = pool.request();
      params.forEach((value, i) => request.input(`p${i + 1}`, value));
      const result = await request.query(sql);
      return { rows: (result.recordset ?? []) as Record<string, unknown>[], affected: result.rowsAffected.reduce((a, b) => a + b, 0) };
    },
    close: () => pool.close(),
  };
}

async function openOracle(s: ConnectionSettings): Promise<TargetConnection> {
  const { default: oracledb } = await import('oracledb');
  // Thin mode (the default while initOracleClient is not called): pure JavaScript.
  const pool = await oracledb.createPool({
    user: s.user,
    password: s.password,
    connectString: `${s.host}:${s.port}/${s.database}`,
    poolMin: 0,
    poolMax: s.poolMax,
    connectTimeout: Math.ceil(s.connectTimeoutMs / 1000),
  });
  return {
    async run({ sql, params }) {
      const connection = await pool.getConnection();
      try {
        connection.callTimeout = s.queryTimeoutMs;
        const binds = Object.fromEntries(params.map((value, i) => [`b${i + 1}`, value])) as Record<string, string | number | Date | null>;
        const result = await connection.execute<Record<string, unknown>>(sql, binds, { autoCommit: true, outFormat: oracledb.OUT_FORMAT_OBJECT });
        const rows = (result.rows ?? []).map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v])));
        return { rows, affected: result.rowsAffected ?? 0 };
      } finally {
        await connection.close();
      }
    },
    close: () => pool.close(0),
  };
}

export function openConnection(settings: ConnectionSettings): Promise<TargetConnection> {
  switch (settings.dialect) {
    case 'postgresql':
      return openPostgres(settings);
    case 'mysql':
      return openMysql(settings);
    case 'sqlserver':
      return openSqlServer(settings);
    case 'oracle':
      return openOracle(settings);
  }
}

export interface ConnectionPools {
  /** The pool of `key` (target and version), opened with `settings()` on first use. */
  get(key: string, settings: () => ConnectionSettings): Promise<TargetConnection>;
  /** Closes the pools of a target whose key starts with `prefix` (it changed or was deleted). */
  drop(prefix: string): Promise<void>;
  closeAll(): Promise<void>;
}

/** The process's pools, keyed by target and settings version. */
export function createConnectionPools(): ConnectionPools {
  const pools = new Map<string, Promise<TargetConnection>>();
  const closeQuietly = async (p: Promise<TargetConnection>) => {
    try {
      await (await p).close();
    } catch {
      // a pool that never opened, or is already closed
    }
  };
  return {
    get(key, settings) {
      let pool = pools.get(key);
      if (!pool) {
        pool = openConnection(settings());
        pools.set(key, pool);
        // A pool that could not even be created (oracledb validates eagerly) is not kept.
        pool.catch(() => pools.delete(key));
      }
      return pool;
    },
    async drop(prefix) {
      const gone = [...pools.entries()].filter(([key]) => key.startsWith(prefix));
      for (const [key] of gone) pools.delete(key);
      await Promise.all(gone.map(([, p]) => closeQuietly(p)));
    },
    async closeAll() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map(closeQuietly));
    },
  };
}
