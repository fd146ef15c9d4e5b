import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** `GET /healthz`: 200 while the process can reach its database, 503 otherwise. */
export function registerHealthRoute(app: FastifyInstance, db: Kysely<Database>, isShuttingDown: () => boolean): void {
  app.get('/healthz', async (_request, reply) => {
    if (isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
    try {
      await sql`select 1`.execute(db);
      return { status: 'ok' };
    } catch {
      return reply.code(503).send({ status: 'database_unavailable' });
    }
  });
}
