import pino from 'pino';
import type { Config } from '../config/schema.js';
import type { DatabaseHandle } from '../db/client.js';
import { resolveMasterKey } from '../modules/tenants/index.js';
import type { JobRunner } from '../platform/jobs.js';
import { type InstanceHeartbeat, startInstanceHeartbeat } from '../platform/instance-heartbeat.js';
import { connectRedisInBackground } from '../platform/redis.js';
import { buildApp, loggerOptions } from './build-app.js';
import { grpcAddress, type GrpcServer, startGrpcServer } from './grpc/grpc-server.js';
import { describeDatabase, openMigratedDatabase, startJobRunner, stopOnSignals } from './process.js';
import type { Api } from '../platform/http/types.js';

export interface RunningServer {
  app: Api;
  database: DatabaseHandle;
  url: string;
  /** The in-process job runner, or undefined when `jobs.in_process` is false. */
  jobs: JobRunner | undefined;
  /** The gRPC server beside HTTP (docs/grpc.md), or undefined when `server.grpc.port` is 0. */
  grpc: GrpcServer | undefined;
  stop(): Promise<void>;
}

/** Opens the database, migrates it, resolves the master key, listens, and runs the in-process workers. */
export async function startServer(config: Readonly<Config>, options: { handleSignals?: boolean; quiet?: boolean } = {}): Promise<RunningServer> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions);
  const database = await openMigratedDatabase(config, logger);
  let app: Api | undefined;
  let jobs: JobRunner | undefined;
  let heartbeat: InstanceHeartbeat | undefined;
  let grpc: GrpcServer | undefined;
  try {
    // Before the first request: other processes judge this one's Idempotency-Key claims by it.
    heartbeat = await startInstanceHeartbeat({ db: database.db, kind: database.kind, log: logger });
    const master = await resolveMasterKey(database, config.auth.master_key);

    app = await buildApp({ config, database, masterKeyHash: master.hash, logger });
    closeConnectionsWhenDraining(app);
    await app.listen({ host: config.server.http.host, port: config.server.http.port });
    // Connect now rather than on the first request; a Redis that is down is logged, not fatal.
    connectRedisInBackground(app.services.redis);
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.server.http.port;
    const shownHost = ['0.0.0.0', '::'].includes(config.server.http.host) ? 'localhost' : config.server.http.host;
    const url = `http://${shownHost}:${port}`;
    const grpcAt = grpcAddress(config);
    if (grpcAt) {
      grpc = await startGrpcServer({ services: app.services, host: grpcAt.host, port: grpcAt.port, log: logger, maxMessageBytes: config.server.http.body_limit_bytes });
    }
    if (config.jobs.in_process) {
      // Started only once the app listens, so a process that fails to start never runs jobs.
      jobs = startJobRunner(config, database, app.services, logger);
    }

    let stopping: Promise<void> | undefined;
    const running: RunningServer = {
      app,
      database,
      url,
      jobs,
      grpc,
      stop: () => {
        stopping ??= (async () => {
          const started = Date.now();
          const timed = async (what: string, step: Promise<unknown> | undefined) => {
            await step;
            logger.info({ ms: Date.now() - started }, `${what} stopped`);
          };
          // Requests and running jobs finish side by side; the database closes after both (the
          // Redis connection closes with the app, in its onClose hook).
          await Promise.all([timed('http', app!.close()), timed('grpc', grpc?.stop(config.server.shutdown_grace_ms)), timed('jobs', jobs?.stop())]);
          await heartbeat?.stop().catch((err: unknown) => logger.warn({ err }, 'could not remove the process heartbeat'));
          await timed('database', database.close());
        })();
        return stopping;
      },
    };
    if (options.handleSignals !== false) stopOnSignals(running.stop, config, logger);
    // The banner comes last: whoever waits for it (a supervisor, a test) may send SIGTERM at once,
    // and the process must then stop cleanly rather than die with the default signal action.
    if (!options.quiet) printBanner(url, database, master.generated, grpc && `${shownHost}:${grpc.port}`);
    return running;
  } catch (err) {
    await jobs?.stop().catch(() => {});
    await grpc?.stop(0).catch(() => {});
    await app?.close().catch(() => {});
    await heartbeat?.stop().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  }
}

/**
 * Answers sent after SIGTERM (the requests in flight) close their connection. Without this a
 * keep-alive client holds its idle connection open, and with it the process, until the server's
 * keep-alive timeout (5 s) after its last answer.
 */
function closeConnectionsWhenDraining(app: Api): void {
  let draining = false;
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  // Callback style: every answer passes here, and the common one must not pay for a promise.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });
}

function printBanner(url: string, database: DatabaseHandle, generatedMasterKey: string | undefined, grpcTarget: string | undefined): void {
  const where = describeDatabase(database);
  const lines = [
    '',
    `marketing-hub is listening on ${url}`,
    `  API      ${url}/v1`,
    `  Docs     ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
    `  Metrics  ${url}/metrics`,
    `  Health   ${url}/health`,
    ...(grpcTarget ? [`  gRPC     ${grpcTarget}   (docs/grpc.md)`] : []),
    `  Database ${where}`,
  ];
  if (generatedMasterKey) {
    lines.push(
      '',
      '  A master key was generated for this embedded install. It is shown ONCE and only its hash is kept:',
      `    ${generatedMasterKey}`,
      '  Keep it, or set MARKETING_MASTER_KEY to a key of your own.',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
