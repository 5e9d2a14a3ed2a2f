import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Database } from '../../db/client.js';
import { createUnitOfWork } from '../../platform/http/unit-of-work.js';
import type { Config } from '../../config/schema.js';
import type { Services } from '../services.js';
import { unaryHandler } from './grpc-call.js';
import { grpcMethods } from './grpc-methods.js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { createWire, loadDefinition, PACKAGE } from './wire.js';

export const DEFAULT_GRPC_PORT = 9105;

export interface GrpcServer {
  /** The port it listens on (the chosen one when asked for any free port). */
  port: number;
  /** Stops taking calls and lets running ones finish (at most `graceMs`, then cuts them). */
  stop(graceMs?: number): Promise<void>;
}

export interface GrpcOptions {
  services: Services & { db: Database; registry?: Registry };
  host: string;
  /** 0 = any free port. */
  port: number;
  log: { error(obj: unknown, message: string): void };
  /** The largest request message taken (the HTTP body limit; larger is RESOURCE_EXHAUSTED). */
  maxMessageBytes?: number;
}

/**
 * Where gRPC listens, from `server.grpc`: null when its port is 0 (off). Unset: 9105, or any free
 * port (0) when the HTTP port is 0, so that tests and scripts asking for any HTTP port never
 * collide on 9105.
 */
export function grpcAddress(config: Readonly<Config>): { host: string; port: number } | null {
  const grpc = config.server.grpc;
  const fromAddr = grpc?.addr ? /^(.*):(\d+)$/.exec(grpc.addr) : null;
  const port = grpc?.port ?? (fromAddr ? Number(fromAddr[2]) : undefined);
  const host = grpc?.host ?? (fromAddr?.[1] || config.server.http.host);
  if (port === 0) return null;
  if (port === undefined) return { host, port: config.server.http.port === 0 ? 0 : DEFAULT_GRPC_PORT };
  return { host, port };
}

/** Metrics of gRPC calls in the app's registry: by service, method and status code. */
function grpcMetrics(registry: Registry | undefined) {
  if (!registry) return () => {};
  const existing = registry.getSingleMetric('grpc_server_handled_total') as Counter<'grpc_service' | 'grpc_method' | 'grpc_code'> | undefined;
  const handled =
    existing ??
    new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls answered, by service, method and status code',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'] as const,
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric('grpc_server_handling_seconds') as Histogram<'grpc_service' | 'grpc_method'> | undefined) ??
    new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'gRPC call duration by service and method',
      labelNames: ['grpc_service', 'grpc_method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
  return (name: string, code: string, seconds: number) => {
    const [service = '', method = ''] = name.split('/').slice(-2);
    const grpc_service = service;
    handled.inc({ grpc_service, grpc_method: method, grpc_code: code });
    duration.observe({ grpc_service, grpc_method: method }, seconds);
  };
}

/** The gRPC server beside the HTTP app: the same services, unit of work, keys and idempotency store. */
export async function startGrpcServer(options: GrpcOptions): Promise<GrpcServer> {
  const { services } = options;
  const definition: PackageDefinition = loadDefinition();
  const wire = createWire(definition);
  const uow = createUnitOfWork({ db: services.db, idempotency: services.idempotency });
  const deps = { apiKeys: services.apiKeys, idempotency: services.idempotency, wire, log: options.log, observe: grpcMetrics(services.registry) };
  const server = new Server(options.maxMessageBytes ? { 'grpc.max_receive_message_length': options.maxMessageBytes } : {});
  for (const [serviceName, methods] of Object.entries(grpcMethods(services, uow))) {
    const service = definition[`${PACKAGE}.${serviceName}`] as ServiceDefinition;
    const implementation: UntypedServiceImplementation = {};
    for (const [methodName, spec] of Object.entries(methods)) {
      const method = service[methodName];
      if (!method) throw new Error(`${serviceName}.${methodName} is not in the .proto files`);
      // proto-loader's method definitions carry their message types' descriptors.
      const typed = method as unknown as { requestType: { type: { name: string } }; responseType: { type: { name: string } } };
      const requestType = `${PACKAGE}.${typed.requestType.type.name}`;
      const responseType = `${PACKAGE}.${typed.responseType.type.name}`;
      implementation[methodName] = unaryHandler(deps, method.path, spec, requestType, responseType);
    }
    server.addService(service, implementation);
  }
  const port = await new Promise<number>((resolve, reject) => {
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    server.bindAsync(`${host}:${options.port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  let stopping: Promise<void> | undefined;
  return {
    port,
    stop: (graceMs = 10_000) =>
      (stopping ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}
