/**
 * The gRPC ceiling of this machine for a refusal: a bare @grpc/grpc-js server (no auth, no
 * validation, no database) whose GrantService.Grant answers the same FAILED_PRECONDITION
 * inventory_exhausted refusal, trailers included. bench/grpc loads it next to bench/http-ceiling.ts
 * (a bare Fastify 409) with the same clients, so the transports' own cost per call can be read
 * apart from the service's.
 *
 *   node --import tsx bench/grpc-ceiling.ts      (prints "listening on http://...": the gRPC target)
 */
import { loadPackageDefinition, Metadata, type sendUnaryData, Server, ServerCredentials, type ServerUnaryCall, status, type ServiceDefinition } from '@grpc/grpc-js';
import { loadDefinition } from '../src/app/grpc/wire.js';

const pkg = loadPackageDefinition(loadDefinition()) as unknown as { marketing_hub: { v1: { GrantService: { service: ServiceDefinition } } } };
const server = new Server();
server.addService(pkg.marketing_hub.v1.GrantService.service, {
  Grant: (call: ServerUnaryCall<{ reward_id?: string }, unknown>, callback: sendUnaryData<unknown>) => {
    const metadata = new Metadata();
    metadata.set('error-code', 'inventory_exhausted');
    const body = { error: { code: 'inventory_exhausted', message: 'The reward has no stock left', details: { reward_id: call.request.reward_id, available: 0 } }, requestId: 'ceiling', http_status: 409 };
    metadata.set('error-details-bin', Buffer.from(JSON.stringify(body), 'utf8'));
    callback({ code: status.FAILED_PRECONDITION, details: 'The reward has no stock left', metadata });
  },
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`listening on http://127.0.0.1:${port}`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
