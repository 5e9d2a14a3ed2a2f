import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';

/**
 * Redis is optional and never the source of truth: it carries rate limits (and later caches and
 * gates) shared by all API processes. Everything that uses it has an in-process fallback, so a
 * slow or dead Redis must fail fast rather than hold requests: commands are not queued while
 * disconnected (enableOfflineQueue false: they reject at once), each one has a timeout, and the
 * client reconnects in the background with capped backoff for as long as the process lives.
 */
export interface RedisSettings {
  addr: string;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** `host:port` (as `data.redis.addr` is usually written) or a `redis://` / `rediss://` URL. */
export function redisUrl(addr: string): string {
  return /^rediss?:\/\//i.test(addr) ? addr : `redis://${addr}`;
}

export function redisOptions(settings: RedisSettings): RedisOptions {
  return {
    // Nothing connects at construction, so the CLI and tests that never use Redis open nothing;
    // the first user connects (ensureRedisConnected) and the server connects at start.
    lazyConnect: true,
    enableOfflineQueue: false,
    // A command in flight when the connection drops is retried once after reconnecting, then fails.
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs ?? 500,
    connectTimeout: settings.connectTimeoutMs ?? 2000,
    // Reconnect after 100 ms, 200 ms, ... capped at 5 s, forever: Redis coming back is picked up.
    retryStrategy: (times) => Math.min(times * 100, 5000),
    // Scripts and plain commands only: no need for the ready check's INFO round trip.
    enableReadyCheck: false,
    // Commands issued in the same tick go out in one write: under load, concurrent requests' calls
    // share socket writes (each write costs more CPU in the kernel than Redis spends answering).
    enableAutoPipelining: true,
  };
}

/** The Redis client of the configuration, or null when `data.redis.addr` / REDIS_URL is unset. */
export function createRedis(
  config: Pick<Config['data']['redis'], 'addr' | 'command_timeout_ms' | 'connect_timeout_ms'>,
  log?: { warn: (err: unknown, message: string) => void; info: (message: string) => void },
): Redis | null {
  if (!config.addr) return null;
  const client = new Redis(
    redisUrl(config.addr),
    redisOptions({ addr: config.addr, commandTimeoutMs: config.command_timeout_ms, connectTimeoutMs: config.connect_timeout_ms }),
  );
  watchRedis(client, log);
  return client;
}

/**
 * Logs the first error of an outage and the recovery, not every reconnect attempt. Without an
 * 'error' listener ioredis would print each failed attempt to stderr.
 */
export function watchRedis(client: Redis, log?: { warn: (err: unknown, message: string) => void; info: (message: string) => void }): void {
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    log?.warn(err, 'Redis is unreachable; rate limits fall back to in-process counting until it is back');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log?.info('Redis is reachable again');
  });
}

const connecting = new WeakMap<Redis, Promise<void>>();

/**
 * Connects a lazy client the first time it is needed, once, shared by concurrent callers. Later
 * reconnects are ioredis's own; while they run, commands fail fast and callers fall back.
 */
export function ensureRedisConnected(client: Redis): Promise<void> {
  const pending = connecting.get(client);
  if (pending) return pending;
  if (client.status !== 'wait') return Promise.resolve();
  const first = client.connect().finally(() => connecting.delete(client));
  connecting.set(client, first);
  return first;
}

/** Starts connecting without waiting (server start), so the first request finds Redis ready. */
export function connectRedisInBackground(client: Redis | null): void {
  if (client) ensureRedisConnected(client).catch(() => {});
}

/**
 * For /ready: `UP`, or `DEGRADED` when Redis does not answer a PING in time. Never `DOWN`: every
 * Redis user falls back to in-process state, so the process still serves correctly without it.
 */
export async function probeRedis(client: Redis, timeoutMs = 500): Promise<'UP' | 'DEGRADED'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ensureRedisConnected(client).then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis ping timed out')), timeoutMs);
      }),
    ]);
    return 'UP';
  } catch {
    return 'DEGRADED';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Graceful shutdown: QUIT when connected (pending replies arrive first) and wait for the socket to
 * close, at most a second; otherwise, or after that, drop it. Resolves with the client ended.
 */
export async function closeRedis(client: Redis | null): Promise<void> {
  if (!client || client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const endedOrTimeout = () => Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
  try {
    if (client.status === 'ready') {
      await client.quit().catch(() => {});
      await endedOrTimeout();
    }
    // (status changes while awaiting; TypeScript's narrowing from the first check does not see it)
    if ((client.status as string) === 'end') return;
    // Between reconnect attempts there is no socket: disconnect() cancels the next attempt and
    // nothing further happens (no 'end' event), so there is nothing to wait for.
    const idle = client.status === 'reconnecting';
    client.disconnect();
    if (!idle) await endedOrTimeout();
  } finally {
    clearTimeout(timer);
  }
}
