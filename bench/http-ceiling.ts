/**
 * The HTTP ceiling of this machine for a refusal: a bare Fastify process (no auth, no hooks, no
 * logger) that parses the same JSON body and answers the same 409 error body. bench/grants loads
 * it like the service's sold-out case, so the sold-out figure can be read against what one Node
 * process can answer at all here, with the load generator on the same cores.
 *
 *   node --import tsx bench/http-ceiling.ts      (prints "listening on http://...")
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/v1/reward-grants', async (request, reply) => {
  const body = request.body as { reward_id?: string };
  return reply.code(409).send({
    error: { code: 'inventory_exhausted', message: 'The reward has no stock left', details: { reward_id: body.reward_id, available: 0 } },
    requestId: 'ceiling',
  });
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${address}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
