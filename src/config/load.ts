import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, envBindings, type Config, type EnvBinding } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // A database that is not PostgreSQL alone is said in its one sentence, nothing around it.
    super(problems.length === 1 && problems[0]!.startsWith(POSTGRES_REQUIRED) ? problems[0]! : `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** How the refusal of a database other than PostgreSQL starts (config.database.test.ts reads it). */
export const POSTGRES_REQUIRED = 'PostgreSQL is required';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Path of the YAML file; default `MARKETING_CONFIG` or `configs/config.yaml` if it exists. */
  file?: string | null;
  /** Values that win over file and environment (CLI flags, tests). */
  overrides?: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateConfig = ajv.compile(ConfigSchema);

/**
 * Builds the configuration from defaults < YAML file < environment < overrides, validates it
 * once, and fails with every bad key listed (not just the first).
 */
export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const origin = new Map<string, string>();

  const raw: Record<string, unknown> = {};
  const file = options.file === undefined ? defaultConfigFile(env) : options.file;
  if (file) {
    try {
      const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          problems.push(`${file}: must be a YAML mapping`);
        } else {
          Object.assign(raw, splitHttpAddr(parsed as Record<string, unknown>, problems));
        }
      }
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }

  const seen = new Set<string>();
  for (const binding of envBindings) {
    const value = env[binding.env];
    if (value === undefined || value === '' || seen.has(binding.path)) continue;
    seen.add(binding.path);
    const converted = convertEnv(binding, value);
    if (converted.error) {
      problems.push(`${binding.env} (${binding.path}): ${converted.error}`);
      continue;
    }
    setPath(raw, binding.path, converted.value);
    origin.set(binding.path, binding.env);
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(raw, path, value);

  const notPostgres = checkPostgres(raw, origin, file);
  if (notPostgres) problems.push(notPostgres.problem);

  if (!validateConfig(raw)) {
    for (const e of validateConfig.errors ?? []) {
      const path = e.instancePath.slice(1).replaceAll('/', '.');
      // Said once, by the sentence above, not again as a pattern or an unknown key.
      if (notPostgres && (path === 'data.database.source' || (e.keyword === 'additionalProperties' && path === 'data.database'))) continue;
      const key =
        e.keyword === 'additionalProperties'
          ? [path, (e.params as { additionalProperty: string }).additionalProperty].filter(Boolean).join('.')
          : path;
      const label = origin.has(key) ? `${origin.get(key)} (${key})` : key || '(root)';
      const message = e.keyword === 'additionalProperties' ? 'unknown setting' : e.message;
      problems.push(`${label}: ${message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(raw as Config);
}

const DRIVER_KEYS = ['driver', 'type', 'dialect', 'kind', 'engine'];

/**
 * The service runs on PostgreSQL (or its embedded PGlite) only: a database address that is not
 * postgres:// or postgresql:// (the product document's `mysql://...`, its Go DSN
 * `root:password@tcp(127.0.0.1:3306)/...`) or a database block naming another driver
 * (`driver: mysql`) is refused with one sentence that says so and how to set it.
 */
function checkPostgres(raw: Record<string, unknown>, origin: Map<string, string>, file: string | null): { problem: string } | null {
  const database = (raw.data as Record<string, unknown> | undefined)?.database;
  if (typeof database !== 'object' || database === null || Array.isArray(database)) return null;
  const block = database as Record<string, unknown>;
  const where = (key: string) => origin.get(key) ?? `${file ?? 'the configuration'} (${key})`;
  const howTo = 'set DATABASE_URL=postgres://user:password@host:5432/database (or data.database.source in the file), or leave it unset for the embedded database';
  for (const key of DRIVER_KEYS) {
    const value = block[key];
    if (typeof value === 'string' && !/^postgres(ql)?$|^pg$|^pglite$/i.test(value.trim())) {
      return { problem: `${POSTGRES_REQUIRED}, but ${where(`data.database.${key}`)} names ${JSON.stringify(value)}: ${howTo}.` };
    }
  }
  const source = block.source;
  if (typeof source === 'string' && !/^postgres(ql)?:\/\//.test(source)) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1];
    const what = scheme ? `a ${scheme}:// address` : 'an address that is not postgres://';
    return { problem: `${POSTGRES_REQUIRED}, but ${where('data.database.source')} is ${what}: ${howTo}.` };
  }
  return null;
}

function defaultConfigFile(env: NodeJS.ProcessEnv): string | null {
  if (env.MARKETING_CONFIG) return resolve(env.MARKETING_CONFIG);
  const candidate = resolve('configs/config.yaml');
  return existsSync(candidate) ? candidate : null;
}

/** A config.yaml may write `server.http.addr: 0.0.0.0:8105`; we split it into host and port. */
function splitHttpAddr(doc: Record<string, unknown>, problems: string[]): Record<string, unknown> {
  const http = (doc.server as Record<string, unknown> | undefined)?.http as Record<string, unknown> | undefined;
  if (http && typeof http.addr === 'string') {
    const match = /^(.*):(\d+)$/.exec(http.addr);
    if (!match) problems.push(`server.http.addr: expected host:port, got "${http.addr}"`);
    else {
      http.host ??= match[1] || '0.0.0.0';
      http.port ??= Number(match[2]);
    }
    delete http.addr;
  }
  return doc;
}

function convertEnv(binding: EnvBinding, value: string): { value?: unknown; error?: string } {
  switch (binding.kind) {
    case 'string':
      return { value };
    case 'integer':
      return /^-?\d+$/.test(value.trim()) ? { value: Number(value) } : { error: `expected an integer, got "${value}"` };
    case 'number':
      return Number.isFinite(Number(value)) && value.trim() !== '' ? { value: Number(value) } : { error: `expected a number, got "${value}"` };
    case 'boolean':
      if (/^(true|1|yes)$/i.test(value)) return { value: true };
      if (/^(false|0|no)$/i.test(value)) return { value: false };
      return { error: `expected true or false, got "${value}"` };
    case 'bool_or_string':
      if (/^(true|false)$/i.test(value)) return { value: value.toLowerCase() === 'true' };
      return { value };
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The effective configuration with secrets masked, for `marketing-hub config` and start-up logs. */
export function describeConfig(config: Config): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Config;
  if (copy.auth.master_key) copy.auth.master_key = '***';
  if (copy.data.database.source) copy.data.database.source = maskUrl(copy.data.database.source);
  if (copy.data.redis.addr) copy.data.redis.addr = maskUrl(copy.data.redis.addr);
  return copy as unknown as Record<string, unknown>;
}

export function maskUrl(url: string): string {
  // The user may be empty, as in the usual Redis form redis://:password@host.
  return url.replace(/\/\/([^:@/]*):([^@/]+)@/, '//$1:***@');
}
