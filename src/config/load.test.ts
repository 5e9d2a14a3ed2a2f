import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, maskUrl } from './load.js';
import { configError, yamlFile } from '../../test/helpers/config-files.js';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({ env: {}, file: null });
    expect(config.server.http.port).toBe(8105);
    expect(config.server.http.host).toBe('0.0.0.0');
    expect(config.data.dir).toBe('./data');
    expect(config.server.http.body_limit_bytes).toBe(1048576);
    expect(config.server.http.trust_proxy).toBe(false);
    expect(config.data.database.source).toBeUndefined();
    expect(config.data.database.pool_size).toBe(20);
    expect(config.data.redis.addr).toBeUndefined();
    expect(config.auth.master_key).toBeUndefined();
    expect(config.auth.key_cache_seconds).toBe(10);
    expect(config.idempotency).toEqual({ ttl_hours: 24, lock_seconds: 60 });
    expect(config.log).toEqual({ level: 'info', pretty: false });
  });

  it('ignores empty environment variables', () => {
    const config = loadConfig({ env: { PORT: '', DATABASE_URL: '', LOG_LEVEL: '' }, file: null });
    expect(config.server.http.port).toBe(8105);
    expect(config.data.database.source).toBeUndefined();
    expect(config.log.level).toBe('info');
  });

  it('reads the port from PORT or MARKETING_HTTP_PORT; PORT wins', () => {
    expect(loadConfig({ env: { PORT: '9001' }, file: null }).server.http.port).toBe(9001);
    expect(loadConfig({ env: { MARKETING_HTTP_PORT: '9002' }, file: null }).server.http.port).toBe(9002);
    expect(loadConfig({ env: { PORT: '9001', MARKETING_HTTP_PORT: '9002' }, file: null }).server.http.port).toBe(9001);
  });

  it('reads the database from DATABASE_URL or MARKETING_DB_SOURCE; DATABASE_URL wins', () => {
    const a = 'postgres://app:pw@db.example:5432/marketing';
    const b = 'postgresql://seed@other/seed';
    expect(loadConfig({ env: { DATABASE_URL: a }, file: null }).data.database.source).toBe(a);
    expect(loadConfig({ env: { MARKETING_DB_SOURCE: b }, file: null }).data.database.source).toBe(b);
    expect(loadConfig({ env: { DATABASE_URL: a, MARKETING_DB_SOURCE: b }, file: null }).data.database.source).toBe(a);
    expect(loadConfig({ env: { MARKETING_DB_POOL_SIZE: '5' }, file: null }).data.database.pool_size).toBe(5);
  });

  it('reads Redis from MARKETING_REDIS_ADDR (and REDIS_URL, which wins)', () => {
    expect(loadConfig({ env: { MARKETING_REDIS_ADDR: 'redis.local:6379' }, file: null }).data.redis.addr).toBe('redis.local:6379');
    expect(loadConfig({ env: { REDIS_URL: 'redis://r1:6379', MARKETING_REDIS_ADDR: 'r2:6379' }, file: null }).data.redis.addr).toBe(
      'redis://r1:6379',
    );
  });

  it('converts typed environment variables', () => {
    const config = loadConfig({
      env: {
        MARKETING_HTTP_HOST: '127.0.0.1',
        MARKETING_LOG_PRETTY: 'yes',
        MARKETING_TRUST_PROXY: 'true',
        MARKETING_IDEMPOTENCY_TTL_HOURS: '1.5',
        LOG_LEVEL: 'debug',
        MARKETING_MASTER_KEY: 'k'.repeat(32),
      },
      file: null,
    });
    expect(config.server.http.host).toBe('127.0.0.1');
    expect(config.log).toEqual({ level: 'debug', pretty: true });
    expect(config.server.http.trust_proxy).toBe(true);
    expect(config.idempotency.ttl_hours).toBe(1.5);
    expect(config.auth.master_key).toBe('k'.repeat(32));
    expect(loadConfig({ env: { MARKETING_TRUST_PROXY: '10.0.0.0/8' }, file: null }).server.http.trust_proxy).toBe('10.0.0.0/8');
  });

  it('loads a YAML file that writes server.http.addr as host:port', () => {
    const file = yamlFile(
      ['server:', '  http:', '    addr: 0.0.0.0:9999', 'data:', '  database:', '    source: postgres://x@h/db', ''].join('\n'),
    );
    const config = loadConfig({ env: {}, file });
    expect(config.server.http.host).toBe('0.0.0.0');
    expect(config.server.http.port).toBe(9999);
    expect(config.data.database.source).toBe('postgres://x@h/db');
    expect(config.server.http).not.toHaveProperty('addr');
    // Defaults still fill what the file leaves out.
    expect(config.data.dir).toBe('./data');
    expect(config.data.database.pool_size).toBe(20);
  });

  it('layers defaults < file < environment < overrides', () => {
    const file = yamlFile('server:\n  http:\n    addr: 127.0.0.1:7000\nlog:\n  level: warn\n');
    const fromFile = loadConfig({ env: {}, file });
    expect(fromFile.server.http).toMatchObject({ host: '127.0.0.1', port: 7000 });
    expect(fromFile.log.level).toBe('warn');
    const fromEnv = loadConfig({ env: { PORT: '7001', LOG_LEVEL: 'error' }, file });
    expect(fromEnv.server.http).toMatchObject({ host: '127.0.0.1', port: 7001 });
    expect(fromEnv.log.level).toBe('error');
    const overridden = loadConfig({ env: { PORT: '7001' }, file, overrides: { 'server.http.port': 7002, 'log.level': 'silent' } });
    expect(overridden.server.http.port).toBe(7002);
    expect(overridden.log.level).toBe('silent');
  });

  it('reads the file named by MARKETING_CONFIG', () => {
    const file = yamlFile('data:\n  dir: /var/lib/mh\n');
    expect(loadConfig({ env: { MARKETING_CONFIG: file } }).data.dir).toBe('/var/lib/mh');
  });

  it('names every bad setting at once', () => {
    const file = yamlFile('server:\n  http:\n    addr: 0.0.0.0:8105\n    colour: blue\n');
    const err = configError(() =>
      loadConfig({
        env: {
          PORT: 'abc',
          MARKETING_DB_POOL_SIZE: '0',
          LOG_LEVEL: 'loud',
          DATABASE_URL: 'mysql://root:pw@localhost:3306/marketing',
        },
        file,
      }),
    );
    const problems = err.problems;
    const mentions = (needle: string) => problems.some((p) => p.includes(needle));
    expect(mentions('PORT'), problems.join('\n')).toBe(true);
    expect(problems.some((p) => p.startsWith('PORT') && p.includes('abc')), problems.join('\n')).toBe(true);
    expect(mentions('MARKETING_DB_POOL_SIZE'), problems.join('\n')).toBe(true);
    expect(mentions('LOG_LEVEL'), problems.join('\n')).toBe(true);
    expect(mentions('DATABASE_URL'), problems.join('\n')).toBe(true);
    expect(mentions('colour'), problems.join('\n')).toBe(true);
    // The message lists them too, for the operator reading the start-up failure.
    for (const needle of ['PORT', 'MARKETING_DB_POOL_SIZE', 'LOG_LEVEL', 'DATABASE_URL', 'colour']) expect(err.message).toContain(needle);
    expect(err.name).toBe('ConfigError');
  });

  it('refuses a server.http.addr without a port and a file that is not a mapping', () => {
    const noPort = configError(() => loadConfig({ env: {}, file: yamlFile('server:\n  http:\n    addr: localhost\n') }));
    expect(noPort.problems.some((p) => p.includes('server.http.addr'))).toBe(true);
    const list = configError(() => loadConfig({ env: {}, file: yamlFile('- a\n- b\n') }));
    expect(list.problems).toHaveLength(1);
    const missing = configError(() => loadConfig({ env: {}, file: join(tmpdir(), 'mh-no-such-dir', 'config.yaml') }));
    expect(missing.problems).toHaveLength(1);
  });

  it('refuses a short master key and out-of-range numbers', () => {
    const err = configError(() =>
      loadConfig({ env: { MARKETING_MASTER_KEY: 'short', MARKETING_HTTP_PORT: '70000', MARKETING_KEY_CACHE_SECONDS: '-1' }, file: null }),
    );
    expect(err.problems.some((p) => p.includes('MARKETING_MASTER_KEY'))).toBe(true);
    expect(err.problems.some((p) => p.includes('MARKETING_HTTP_PORT'))).toBe(true);
    expect(err.problems.some((p) => p.includes('MARKETING_KEY_CACHE_SECONDS'))).toBe(true);
    expect(err.problems.join('\n')).not.toContain('short');
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ env: {}, file: null });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.server.http)).toBe(true);
    expect(Object.isFrozen(config.data.database)).toBe(true);
    expect(() => {
      (config.server.http as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.server.http.port).toBe(8105);
  });
});

describe('describeConfig', () => {
  it('masks the master key and the database password', () => {
    const masterKey = 'super-secret-master-key-0123456789';
    const config = loadConfig({
      env: { MARKETING_MASTER_KEY: masterKey, DATABASE_URL: 'postgres://app:db-pass-42@db.example:5432/marketing' },
      file: null,
    });
    const described = describeConfig(config) as { auth: { master_key: string }; data: { database: { source: string } } };
    expect(described.auth.master_key).toBe('***');
    expect(described.data.database.source).toBe('postgres://app:***@db.example:5432/marketing');
    const text = JSON.stringify(described);
    expect(text).not.toContain(masterKey);
    expect(text).not.toContain('db-pass-42');
    // The configuration itself is untouched.
    expect(config.auth.master_key).toBe(masterKey);
  });

  it('leaves URLs without a password and unset secrets alone', () => {
    const config = loadConfig({ env: { DATABASE_URL: 'postgres://x@h/db' }, file: null });
    const described = describeConfig(config) as { auth: Record<string, unknown>; data: { database: { source: string } } };
    expect(described.data.database.source).toBe('postgres://x@h/db');
    expect(described.auth).not.toHaveProperty('master_key');
    expect(maskUrl('postgres://h/db')).toBe('postgres://h/db');
  });

  it('masks a Redis password, also with an empty user name', () => {
    const named = describeConfig(loadConfig({ env: { REDIS_URL: 'redis://default:redis-pw-1@r:6379' }, file: null }));
    expect(JSON.stringify(named)).not.toContain('redis-pw-1');
    const anonymous = describeConfig(loadConfig({ env: { REDIS_URL: 'redis://:redis-pw-2@r:6379/0' }, file: null }));
    expect(JSON.stringify(anonymous)).not.toContain('redis-pw-2');
  });
});
