import { createServer, type Server } from 'node:http';
import type pino from 'pino';
import type { Registry } from 'prom-client';

export interface WorkerMetricsServer {
  /** The port it listens on, or null when it could not (the worker goes on without it). */
  port: number | null;
  close(): Promise<void>;
}

/**
 * `marketing-hub worker`'s own small HTTP listener: `GET /metrics` (the worker's registry: the
 * counters of the deliveries, sends and syncs it runs, and the process metrics) and `GET /health`.
 * A port already taken (two workers on one host with the default) is logged, not fatal: the jobs
 * matter more than their counters.
 */
export async function startWorkerMetrics(registry: Registry, options: { host: string; port: number; log: pino.Logger }): Promise<WorkerMetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => {
          options.log.warn({ err }, 'worker metrics could not be collected');
          res.writeHead(500).end();
        },
      );
    } else if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP","service":"marketing-hub worker"}');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"route_not_found","message":"Only /metrics and /health are served here"}}');
    }
  });
  const port = await listen(server, options.host, options.port).catch((err: NodeJS.ErrnoException) => {
    options.log.warn({ err, port: options.port }, `worker metrics not served: ${err.code === 'EADDRINUSE' ? 'the port is taken (set MARKETING_WORKER_METRICS_PORT per worker)' : err.message}`);
    return null;
  });
  return {
    port,
    close: () => (port === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
