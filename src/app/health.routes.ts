import { Type } from 'typebox';
import type { Database } from '../db/client.js';
import { pingDatabase } from '../db/client.js';
import type { Api } from './types.js';

const Health = Type.Object({ status: Type.String(), service: Type.String() });
const Ready = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.String()) });

export function healthRoutes(app: Api, deps: { db: Database }): void {
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
        summary: 'Readiness: the database answers',
        response: { 200: Ready, 503: Ready },
      },
    },
    async (request, reply) => {
      try {
        await pingDatabase(deps.db);
        return { status: 'READY', checks: { database: 'UP' } };
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'NOT_READY', checks: { database: 'DOWN' } });
      }
    },
  );
}
