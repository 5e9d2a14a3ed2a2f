import { Type } from 'typebox';
import type { Database } from '../db/client.js';
import { pingDatabase } from '../db/client.js';
import type { Redis } from 'ioredis';
import { probeRedis } from '../platform/redis.js';
import type { Api } from '../platform/http/types.js';

const Health = Type.Object({ status: Type.String(), service: Type.String() });
const Ready = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.String()) });

export function healthRoutes(app: Api, deps: { db: Database; redis?: Redis | null }): void {
  app.get(
    '/health',
    { schema: { tags: ['health'], summary: 'Liveness: the process is up', response: { 200: Health } } },
    async () => ({ status: 'UP', service: 'marketing-hub' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: the database answers (Redis, when configured, is reported but optional)',
        response: { 200: Ready, 503: Ready },
      },
    },
    async (request, reply) => {
      // Redis is optional (its users fall back to in-process state), so it is reported as
      // DEGRADED when it does not answer, and never makes the process unready.
      const redis = deps.redis ? probeRedis(deps.redis) : null;
      try {
        await pingDatabase(deps.db);
        return { status: 'READY', checks: { database: 'UP', ...(redis ? { redis: await redis } : {}) } };
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'NOT_READY', checks: { database: 'DOWN', ...(redis ? { redis: await redis } : {}) } });
      }
    },
  );
}
