import { Type, type Static } from 'typebox';

/**
 * Every setting of the service, in one schema. The YAML file (`configs/config.yaml`)
 * uses these keys; environment variables map onto them through `envBindings` below. The result
 * is validated once at start and passed around as a frozen object, never read from a global.
 */
/** A sliding-window limit: at most `limit` per `window_seconds`. */
const WindowLimit = (limit: number, windowSeconds: number) =>
  Type.Object(
    {
      limit: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: limit }),
      window_seconds: Type.Integer({ minimum: 1, maximum: 30 * 86400, default: windowSeconds }),
    },
    { additionalProperties: false, default: {} },
  );

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        http: Type.Object(
          {
            host: Type.String({ minLength: 1, default: '0.0.0.0' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 8105 }),
            body_limit_bytes: Type.Integer({ minimum: 1024, maximum: 104857600, default: 1048576 }),
            // false, true, or a comma list of proxy addresses/CIDRs whose X-Forwarded-For is believed.
            trust_proxy: Type.Union([Type.Boolean(), Type.String()], { default: false }),
          },
          { additionalProperties: false, default: {} },
        ),
        // gRPC beside HTTP (docs/grpc.md). `addr` (host:port, as the Go service's config.yaml
        // writes it) or host / port; port 0 = no gRPC. Unset: 9105, or any free port when the
        // HTTP port is 0 (tests, scripts).
        grpc: Type.Optional(
          Type.Object(
            {
              addr: Type.Optional(Type.String({ pattern: '^.*:\\d+$' })),
              host: Type.Optional(Type.String({ minLength: 1 })),
              port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
            },
            { additionalProperties: false },
          ),
        ),
        shutdown_grace_ms: Type.Integer({ minimum: 0, maximum: 600000, default: 10000 }),
        // API processes sharing the port (Node cluster), e.g. one per core; PostgreSQL only.
        workers: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
      },
      { additionalProperties: false, default: {} },
    ),
    data: Type.Object(
      {
        dir: Type.String({ minLength: 1, default: './data' }),
        database: Type.Object(
          {
            source: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
            pool_size: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
            // Named prepared statements: each statement is parsed and planned once per connection.
            // Turn off behind a pooler in transaction mode that cannot carry them.
            prepared_statements: Type.Boolean({ default: true }),
          },
          { additionalProperties: false, default: {} },
        ),
        redis: Type.Object(
          {
            addr: Type.Optional(Type.String({ minLength: 1 })),
            // Redis is optional: a command that takes longer than this counts as Redis being
            // down, and the caller falls back to its in-process equivalent for that call.
            command_timeout_ms: Type.Integer({ minimum: 10, maximum: 60000, default: 500 }),
            connect_timeout_ms: Type.Integer({ minimum: 100, maximum: 60000, default: 2000 }),
            // Every key this service writes starts with this, so installs can share one Redis.
            key_prefix: Type.String({ maxLength: 64, default: 'mh:' }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        master_key: Type.Optional(Type.String({ minLength: 24, maxLength: 512 })),
        // How long a verified API key is trusted without a database look-up. A revocation made
        // through another process takes effect within this many seconds (at once in this one).
        key_cache_seconds: Type.Integer({ minimum: 0, maximum: 3600, default: 10 }),
        // End-user tokens of client requests (docs/clients.md): the clock difference tolerated on
        // exp / iat, and the longest lifetime (exp - iat, and exp - now) a token may have.
        user_token_clock_skew_seconds: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
        user_token_max_lifetime_seconds: Type.Integer({ minimum: 60, maximum: 86400, default: 86400 }),
      },
      { additionalProperties: false, default: {} },
    ),
    idempotency: Type.Object(
      {
        ttl_hours: Type.Number({ exclusiveMinimum: 0, maximum: 720, default: 24 }),
        // A request that claimed a key and then vanished (crash, killed process) holds the key for
        // this long; afterwards a retry may run it. Nothing it did was committed, so that is safe.
        lock_seconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    jobs: Type.Object(
      {
        // true: the API process also runs the background workers (one-process installs, the
        // embedded database). At scale, set it false on API processes and run `marketing-hub worker`.
        in_process: Type.Boolean({ default: true }),
        // How often an idle worker looks for due jobs: the worst-case pickup delay of a new job.
        poll_ms: Type.Integer({ minimum: 10, maximum: 60000, default: 250 }),
        // Lease of a running job, renewed while its handler runs. A worker that dies holds its
        // jobs this long before another worker runs them again.
        lock_seconds: Type.Integer({ minimum: 5, maximum: 3600, default: 60 }),
        // `marketing-hub worker` serves /metrics and /health on this port (0: none), so the counters
        // of the work it does (deliveries, sends, syncs) are scraped like the API's.
        worker_metrics_port: Type.Integer({ minimum: 0, maximum: 65535, default: 9106 }),
      },
      { additionalProperties: false, default: {} },
    ),
    grants: Type.Object(
      {
        // Group commit: grants that arrive while `batch_concurrency` batches are in flight go
        // together in the next one (one round trip and one commit; each grant still gets its
        // own answer). 1 turns batching off: one statement per grant.
        batch_max_size: Type.Integer({ minimum: 1, maximum: 32, default: 16 }),
        batch_concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
        // How long a reward or campaign read by a grant is reused; each use is re-verified by
        // version inside the grant statement, so this trades memory for round trips, not accuracy.
        snapshot_cache_ms: Type.Integer({ minimum: 0, maximum: 60000, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    webhooks: Type.Object(
      {
        // Tenants choose webhook URLs; by default they may not point at loopback, private or
        // link-local addresses (cloud metadata), so a URL cannot make us call our own network.
        allow_private_networks: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    coupons: Type.Object(
      {
        // Seconds between sweeps that mark coupons past their validity expired (the document's coupon_check_interval).
        check_interval_seconds: Type.Integer({ minimum: 1, maximum: 86400, default: 300 }),
        // Milliseconds a user's wallet terms are kept in each process for quotes (dropped in this
        // process on any change of the user's coupons; the checkout checks again under locks).
        quote_cache_ttl_ms: Type.Integer({ minimum: 0, maximum: 60_000, default: 2000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    promotions: Type.Object(
      {
        // Milliseconds a promotion read for eligibility and discount is kept in each process (the document's promotion_cache_ttl).
        cache_ttl_ms: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    referrals: Type.Object(
      {
        // A referral order still unpaid this long after its sign-up is cancelled (the sweep runs every 5 s).
        unpaid_timeout_seconds: Type.Integer({ minimum: 60, maximum: 30 * 86400, default: 1800 }),
        // Milliseconds each process keeps a landing page's settings and campaign rows (0: read them on every request).
        // A page disabled or paused through another process keeps taking sign-ups here for at most this long.
        page_cache_ms: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    group_buys: Type.Object(
      {
        // The largest group_size a group-buy activity may ask for (the document's max_group_size).
        max_group_size: Type.Integer({ minimum: 2, maximum: 1000, default: 10 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Abuse defence (防刷): attempt limits in front of redemption, and a lock-out after
    // repeated failures (wrong or used codes). Counted in Redis when configured, else in-process.
    rate_limits: Type.Object(
      {
        redeem: Type.Object(
          {
            // Attempts per end user, and per end-user IP address (only when a real end-user IP
            // is known: see src/platform/client-ip.ts). An IP is often shared (NAT, carrier
            // networks), hence the higher default.
            per_user: WindowLimit(30, 3600),
            per_client_ip: WindowLimit(300, 3600),
            // Attempts per product line (app) per sliding hour and per sliding day; null =
            // no quota. An app's own `rate_limits` overrides these.
            per_product_hour: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null }),
            per_product_day: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null }),
          },
          { additionalProperties: false, default: {} },
        ),
        // Coupon claims and uses (lock, the document's use) per end user and per end-user IP.
        coupon_claim: Type.Object(
          { per_user: WindowLimit(20, 3600), per_client_ip: WindowLimit(200, 3600) },
          { additionalProperties: false, default: {} },
        ),
        coupon_use: Type.Object(
          { per_user: WindowLimit(60, 3600), per_client_ip: WindowLimit(600, 3600) },
          { additionalProperties: false, default: {} },
        ),
        // Group-buy creates and joins (a create is the leader's join) per end user and per end-user IP.
        group_buy_join: Type.Object(
          { per_user: WindowLimit(30, 3600), per_client_ip: WindowLimit(300, 3600) },
          { additionalProperties: false, default: {} },
        ),
        // Client requests (X-Publishable-Key, docs/clients.md), on every client route together: per
        // publishable key, per end user (the token's sub), per device (X-Device-Id) and per IP.
        client: Type.Object(
          { per_key: WindowLimit(20000, 60), per_user: WindowLimit(300, 60), per_device: WindowLimit(300, 60), per_client_ip: WindowLimit(1200, 60) },
          { additionalProperties: false, default: {} },
        ),
        // The keyless referral page routes (/api/v1/campaigns/{id}/form, /api/v1/orders, ...) per end-user IP.
        referral_page: Type.Object({ per_client_ip: WindowLimit(600, 60) }, { additionalProperties: false, default: {} }),
        // After `failures` failed attempts within `window_seconds` (per user and per end-user IP),
        // further attempts are refused until the oldest failure leaves the window.
        lockout: Type.Object(
          {
            failures: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
            window_seconds: Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 3600 }),
          },
          { additionalProperties: false, default: {} },
        ),
        // Most keys the in-process limiter keeps (used without Redis, or while Redis is down);
        // beyond it the least recently used are forgotten, which can only be lenient.
        memory_max_keys: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 100_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    redeem_codes: Type.Object(
      {
        // Highest allowed chance that one random guess hits a live code of a batch (count / keyspace).
        max_guess_probability: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 1e-6 }),
        // Batches up to this many codes are made inside the request (201); larger ones by a job (202).
        sync_limit: Type.Integer({ minimum: 1, maximum: 100000, default: 10000 }),
        // Codes per chunk transaction of a generation job: progress is committed with each chunk.
        chunk_size: Type.Integer({ minimum: 100, maximum: 1000000, default: 50000 }),
        // Rows per keyset page of a CSV export: the most an export holds in memory.
        export_page_size: Type.Integer({ minimum: 100, maximum: 100000, default: 5000 }),
        // A batch created by another process is recognised by redemptions here within this long.
        shape_reload_ms: Type.Integer({ minimum: 0, maximum: 600000, default: 1000 }),
        // Minutes between reconciles of the Redis mirror of code states with the database; 0 = never.
        mirror_reconcile_minutes: Type.Integer({ minimum: 0, maximum: 10080, default: 30 }),
      },
      { additionalProperties: false, default: {} },
    ),
    outreach: Type.Object(
      {
        // The address customers reach this service at: tracked links, the open pixel and
        // unsubscribe links are built on it.
        public_url: Type.String({ default: 'http://localhost:8105', pattern: '^https?://' }),
        // Records claimed per step of a run (each step renders, sends and writes its outcomes together).
        batch_size: Type.Integer({ minimum: 1, maximum: 10000, default: 200 }),
        // Provider calls in flight per process.
        send_concurrency: Type.Integer({ minimum: 1, maximum: 1000, default: 64 }),
        // A record claimed by a worker that then dies is sent again after this (same idempotency key).
        lease_seconds: Type.Integer({ minimum: 5, maximum: 3600, default: 60 }),
        // Temporary provider failures before a record is failed (throttling never counts).
        max_attempts: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
        // How often each process looks for runs to start or to send (ms).
        poll_ms: Type.Integer({ minimum: 10, maximum: 60000, default: 250 }),
        // Per-call timeout for provider answers.
        provider_timeout_ms: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Sync to the customers' databases (/v1/sync): connection pools per target in each process,
    // and how long a connection or a statement may take before the attempt fails (and is retried).
    sync: Type.Object(
      {
        pool_max: Type.Integer({ minimum: 1, maximum: 100, default: 4 }),
        connect_timeout_ms: Type.Integer({ minimum: 100, maximum: 120_000, default: 5000 }),
        query_timeout_ms: Type.Integer({ minimum: 100, maximum: 600_000, default: 15_000 }),
        // Attempts of one record before its job is dead (backoff 1 s doubling to 5 min: 12 span about 18 min); POST .../retry starts again.
        max_attempts: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
        // Deliveries in flight per process.
        concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Referral posters (POST /api/v1/qrcode/generate): the landing URL in the QR code is built on
    // outreach.public_url (the address customers reach this service at).
    posters: Type.Object(
      {
        // How long a rendered poster is kept in each process, and how many bytes of posters at most.
        cache_ttl_ms: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 300_000 }),
        cache_max_bytes: Type.Integer({ minimum: 0, maximum: 4_294_967_296, default: 67_108_864 }),
        // The campaign image is fetched from its URL with these limits; past them the poster gets a colour block.
        image_max_bytes: Type.Integer({ minimum: 1024, maximum: 52_428_800, default: 5_242_880 }),
        image_timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Uploaded images (POST /v1/media): the largest body accepted (past it: 413 payload_too_large).
    media: Type.Object(
      {
        max_bytes: Type.Integer({ minimum: 1024, maximum: 52_428_800, default: 2_097_152 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // WeChat sign-in (POST /api/v1/auth/wechat): where WeChat's server API is, and how long a call may take.
    wechat: Type.Object(
      {
        api_base_url: Type.String({ default: 'https://api.weixin.qq.com', pattern: '^https?://' }),
        // WeChat's web authorisation page (the landing page sends WeChat's browser there for the payer's openid).
        oauth_base_url: Type.String({ default: 'https://open.weixin.qq.com', pattern: '^https?://' }),
        timeout_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    customers: Type.Object(
      {
        // Rows per committed chunk of an import (one multi-row upsert each): the most it holds in memory.
        import_chunk_size: Type.Integer({ minimum: 1, maximum: 50000, default: 1000 }),
        // Largest import body; a streamed import is not held in memory, so this only bounds its time.
        import_max_bytes: Type.Integer({ minimum: 1024, maximum: 4294967296, default: 268435456 }),
      },
      { additionalProperties: false, default: {} },
    ),
    audiences: Type.Object(
      {
        // Ids per INSERT of a LIST member upload (one statement, committed on its own): the most
        // the upload holds in memory.
        upload_chunk_size: Type.Integer({ minimum: 1, maximum: 50000, default: 5000 }),
        // Largest member upload body; streamed, so this only bounds its time.
        upload_max_bytes: Type.Integer({ minimum: 1024, maximum: 4294967296, default: 268435456 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Operator sign-in to the admin console (docs/console.md): session lifetimes and the lock-out
    // after failed sign-ins, per (tenant, e-mail) and per client IP.
    operators: Type.Object(
      {
        session_idle_minutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60, default: 30 }),
        session_absolute_hours: Type.Integer({ minimum: 1, maximum: 30 * 24, default: 12 }),
        lockout_failures: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
        lockout_window_seconds: Type.Integer({ minimum: 1, maximum: 86400, default: 900 }),
        ip_lockout_failures: Type.Integer({ minimum: 1, maximum: 100000, default: 50 }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
        pretty: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type Config = Static<typeof ConfigSchema>;

type EnvKind = 'string' | 'integer' | 'number' | 'boolean' | 'bool_or_string';

export interface EnvBinding {
  env: string;
  path: string;
  kind: EnvKind;
  secret?: boolean;
  description: string;
}

/** Environment variables, in precedence order: the first one set wins for a path. */
export const envBindings: readonly EnvBinding[] = [
  { env: 'PORT', path: 'server.http.port', kind: 'integer', description: 'HTTP port (default 8105)' },
  { env: 'MARKETING_HTTP_PORT', path: 'server.http.port', kind: 'integer', description: 'HTTP port (alternative name)' },
  { env: 'MARKETING_HTTP_HOST', path: 'server.http.host', kind: 'string', description: 'Listen address (default 0.0.0.0)' },
  { env: 'MARKETING_GRPC_PORT', path: 'server.grpc.port', kind: 'integer', description: 'gRPC port (default 9105; 0 = no gRPC)' },
  { env: 'MARKETING_GRPC_HOST', path: 'server.grpc.host', kind: 'string', description: 'gRPC listen address (default: the HTTP one)' },
  { env: 'MARKETING_HTTP_BODY_LIMIT', path: 'server.http.body_limit_bytes', kind: 'integer', description: 'Largest request body in bytes (default 1 MiB)' },
  { env: 'MARKETING_TRUST_PROXY', path: 'server.http.trust_proxy', kind: 'bool_or_string', description: 'Trust X-Forwarded-For from: true, false, or a comma list of addresses/CIDRs' },
  { env: 'MARKETING_WORKERS', path: 'server.workers', kind: 'integer', description: 'API processes sharing the port, e.g. one per core (default 1; PostgreSQL only)' },
  { env: 'MARKETING_SHUTDOWN_GRACE_MS', path: 'server.shutdown_grace_ms', kind: 'integer', description: 'How long SIGTERM waits for in-flight requests' },
  { env: 'DATABASE_URL', path: 'data.database.source', kind: 'string', secret: true, description: 'PostgreSQL URL; unset = embedded PGlite' },
  { env: 'MARKETING_DB_SOURCE', path: 'data.database.source', kind: 'string', secret: true, description: 'PostgreSQL URL (alternative name)' },
  { env: 'MARKETING_DB_POOL_SIZE', path: 'data.database.pool_size', kind: 'integer', description: 'PostgreSQL connections per process (default 20)' },
  { env: 'MARKETING_DB_PREPARED_STATEMENTS', path: 'data.database.prepared_statements', kind: 'boolean', description: 'Named prepared statements on PostgreSQL (default true)' },
  { env: 'MARKETING_DATA_DIR', path: 'data.dir', kind: 'string', description: 'Embedded database folder (default ./data)' },
  { env: 'REDIS_URL', path: 'data.redis.addr', kind: 'string', secret: true, description: 'Redis URL or host:port; unset = in-process equivalents' },
  { env: 'MARKETING_REDIS_ADDR', path: 'data.redis.addr', kind: 'string', secret: true, description: 'Redis address (alternative name)' },
  { env: 'MARKETING_REDIS_KEY_PREFIX', path: 'data.redis.key_prefix', kind: 'string', description: 'Prefix of every Redis key (default mh:)' },
  { env: 'MARKETING_REDIS_COMMAND_TIMEOUT_MS', path: 'data.redis.command_timeout_ms', kind: 'integer', description: 'A slower Redis command counts as Redis down (default 500)' },
  { env: 'MARKETING_REDEEM_PER_USER', path: 'rate_limits.redeem.per_user.limit', kind: 'integer', description: 'Redemption attempts per user per window (default 30 per hour)' },
  { env: 'MARKETING_REDEEM_PER_IP', path: 'rate_limits.redeem.per_client_ip.limit', kind: 'integer', description: 'Redemption attempts per end-user IP per window (default 300 per hour)' },
  { env: 'MARKETING_REDEEM_PRODUCT_HOUR', path: 'rate_limits.redeem.per_product_hour', kind: 'integer', description: 'Redemption attempts per product line per hour (default: none)' },
  { env: 'MARKETING_REDEEM_PRODUCT_DAY', path: 'rate_limits.redeem.per_product_day', kind: 'integer', description: 'Redemption attempts per product line per day (default: none)' },
  { env: 'MARKETING_LOCKOUT_FAILURES', path: 'rate_limits.lockout.failures', kind: 'integer', description: 'Failed attempts per user / IP that lock further attempts (default 10)' },
  { env: 'MARKETING_LOCKOUT_WINDOW_SECONDS', path: 'rate_limits.lockout.window_seconds', kind: 'integer', description: 'Window of the failure lock-out (default 3600)' },
  { env: 'MARKETING_MASTER_KEY', path: 'auth.master_key', kind: 'string', secret: true, description: 'Platform master key (24+ chars); required on PostgreSQL' },
  { env: 'MARKETING_KEY_CACHE_SECONDS', path: 'auth.key_cache_seconds', kind: 'integer', description: 'Seconds a verified API key is cached (default 10)' },
  { env: 'MARKETING_OPERATOR_SESSION_IDLE_MINUTES', path: 'operators.session_idle_minutes', kind: 'integer', description: 'A console session unused this long ends (default 30)' },
  { env: 'MARKETING_OPERATOR_SESSION_ABSOLUTE_HOURS', path: 'operators.session_absolute_hours', kind: 'integer', description: 'A console session ends this long after sign-in (default 12)' },
  { env: 'MARKETING_IDEMPOTENCY_TTL_HOURS', path: 'idempotency.ttl_hours', kind: 'number', description: 'Lifetime of Idempotency-Key records (default 24)' },
  { env: 'MARKETING_IDEMPOTENCY_LOCK_SECONDS', path: 'idempotency.lock_seconds', kind: 'integer', description: 'Takeover time of an abandoned in-progress key (default 60)' },
  { env: 'MARKETING_JOBS_IN_PROCESS', path: 'jobs.in_process', kind: 'boolean', description: 'Run the job workers inside the API process (default true)' },
  { env: 'MARKETING_JOBS_POLL_MS', path: 'jobs.poll_ms', kind: 'integer', description: 'How often workers look for due jobs, in ms (default 250)' },
  { env: 'MARKETING_WORKER_METRICS_PORT', path: 'jobs.worker_metrics_port', kind: 'integer', description: 'Port of a worker process\'s /metrics and /health (default 9106; 0 = none)' },
  { env: 'MARKETING_JOBS_LOCK_SECONDS', path: 'jobs.lock_seconds', kind: 'integer', description: 'Lease of a running job: how long the jobs of a dead worker wait (default 60)' },
  { env: 'MARKETING_GRANT_BATCH_MAX_SIZE', path: 'grants.batch_max_size', kind: 'integer', description: 'Most grants per group commit, 1 = no batching (default 16)' },
  { env: 'MARKETING_GRANT_BATCH_CONCURRENCY', path: 'grants.batch_concurrency', kind: 'integer', description: 'Grant batches in flight at once per process (default 2)' },
  { env: 'MARKETING_OUTREACH_PUBLIC_URL', path: 'outreach.public_url', kind: 'string', description: 'Public base URL of tracked links and unsubscribe pages (default http://localhost:8105)' },
  { env: 'MARKETING_WECHAT_API_BASE_URL', path: 'wechat.api_base_url', kind: 'string', description: "WeChat's server API (default https://api.weixin.qq.com)" },
  { env: 'MARKETING_WECHAT_OAUTH_BASE_URL', path: 'wechat.oauth_base_url', kind: 'string', description: "WeChat's web authorisation page (default https://open.weixin.qq.com)" },
  { env: 'MARKETING_WEBHOOKS_ALLOW_PRIVATE', path: 'webhooks.allow_private_networks', kind: 'boolean', description: 'Let webhook URLs reach loopback / private / link-local addresses (default false)' },
  { env: 'MARKETING_CODES_MAX_GUESS_PROBABILITY', path: 'redeem_codes.max_guess_probability', kind: 'number', description: 'Refuse batches whose codes a random guess hits more often than this (default 1e-6)' },
  { env: 'MARKETING_CODES_SYNC_LIMIT', path: 'redeem_codes.sync_limit', kind: 'integer', description: 'Largest batch made inside the request (default 10000)' },
  { env: 'MARKETING_CODES_CHUNK_SIZE', path: 'redeem_codes.chunk_size', kind: 'integer', description: 'Codes per committed chunk of a generation job (default 50000)' },
  { env: 'MARKETING_CODES_EXPORT_PAGE_SIZE', path: 'redeem_codes.export_page_size', kind: 'integer', description: 'Rows per page of a CSV export (default 5000)' },
  { env: 'MARKETING_CODES_MIRROR_RECONCILE_MINUTES', path: 'redeem_codes.mirror_reconcile_minutes', kind: 'integer', description: 'Minutes between repairs of the Redis code mirror from the database; 0 = never (default 30)' },
  { env: 'MARKETING_CODES_SHAPE_RELOAD_MS', path: 'redeem_codes.shape_reload_ms', kind: 'integer', description: 'How soon batches made by another process are recognised, in ms (default 1000)' },
  { env: 'MARKETING_CUSTOMERS_IMPORT_CHUNK_SIZE', path: 'customers.import_chunk_size', kind: 'integer', description: 'Rows per committed chunk of a customer import (default 1000)' },
  { env: 'MARKETING_CUSTOMERS_IMPORT_MAX_BYTES', path: 'customers.import_max_bytes', kind: 'integer', description: 'Largest customer import body in bytes (default 256 MiB)' },
  { env: 'MARKETING_AUDIENCES_UPLOAD_CHUNK_SIZE', path: 'audiences.upload_chunk_size', kind: 'integer', description: 'Ids per committed INSERT of a LIST member upload (default 5000)' },
  { env: 'MARKETING_AUDIENCES_UPLOAD_MAX_BYTES', path: 'audiences.upload_max_bytes', kind: 'integer', description: 'Largest LIST member upload body in bytes (default 256 MiB)' },
  { env: 'LOG_LEVEL', path: 'log.level', kind: 'string', description: 'fatal | error | warn | info | debug | trace | silent' },
  { env: 'MARKETING_LOG_LEVEL', path: 'log.level', kind: 'string', description: 'Log level (alternative name)' },
  { env: 'MARKETING_LOG_PRETTY', path: 'log.pretty', kind: 'boolean', description: 'Human-readable logs (needs pino-pretty, a dev dependency)' },
];
