import { credentials, type Client, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { createWire, loadDefinition, PACKAGE } from '../../src/app/grpc/wire.js';

export interface GrpcReply<T = any> {
  /** 0 (OK) or the gRPC status code. */
  code: number;
  /** The response as JSON (Struct fields as plain objects), undefined on an error. */
  body: T;
  /** `error-code` trailer of a failed call. */
  errorCode: string | undefined;
  /** `error-details-bin` trailer, parsed. */
  details: any;
  message: string | undefined;
  /** Initial metadata of the answer (e.g. idempotent-replayed). */
  headers: Record<string, string>;
}

export interface GrpcCallOptions {
  key?: string | null;
  metadata?: Record<string, string>;
}

/** A real @grpc/grpc-js client of every marketing-hub service at `target`, speaking JSON. */
export function grpcClient(target: string) {
  const definition = loadDefinition();
  const wire = createWire(definition);
  const loaded = loadPackageDefinition(definition) as unknown as Record<string, Record<string, Record<string, new (t: string, c: unknown) => Client>>>;
  const pkg = loaded.marketing_hub!.v1!;
  const clients = new Map<string, Client>();
  const clientOf = (service: string) => {
    let c = clients.get(service);
    if (!c) {
      c = new pkg[service]!(target, credentials.createInsecure());
      clients.set(service, c);
    }
    return c;
  };

  function call<T = any>(service: string, method: string, request: Record<string, unknown>, options: GrpcCallOptions = {}): Promise<GrpcReply<T>> {
    const client = clientOf(service) as unknown as Record<string, (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => { on(event: string, fn: (m: Metadata) => void): void }>;
    const def = (definition[`${PACKAGE}.${service}`] as Record<string, { requestType: { type: { name: string } }; responseType: { type: { name: string } } }>)[method]!;
    const md = new Metadata();
    if (options.key) md.set('authorization', `Bearer ${options.key}`);
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    const wireRequest = wire.toWire(request, `${PACKAGE}.${def.requestType.type.name}`);
    return new Promise((resolve) => {
      const headers: Record<string, string> = {};
      const stream = client[method]!.call(client, wireRequest, md, (err, res) => {
        if (err) {
          const raw = err.metadata?.get('error-details-bin')[0];
          resolve({
            code: err.code,
            body: undefined as T,
            errorCode: err.metadata?.get('error-code')[0] as string | undefined,
            details: raw ? JSON.parse(Buffer.from(raw as Buffer).toString('utf8')) : undefined,
            message: err.details,
            headers,
          });
        } else {
          resolve({ code: 0, body: wire.fromWire(res as Record<string, unknown>, `${PACKAGE}.${def.responseType.type.name}`) as T, errorCode: undefined, details: undefined, message: undefined, headers });
        }
      });
      stream.on('metadata', (m: Metadata) => {
        for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v);
      });
    });
  }

  return {
    call,
    close() {
      for (const c of clients.values()) c.close();
    },
  };
}

export type GrpcTestClient = ReturnType<typeof grpcClient>;
