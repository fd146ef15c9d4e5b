import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';

/**
 * `GET /livez` (the process answers), `GET /healthz` and `GET /readyz` (readiness): 200 `{"status":"ok"}` while the process
 * can reach its database, else a 503 in the OpenAI envelope like every other error. From SIGTERM
 * on, both fail at once (the app refuses every request while it drains), which is what takes the
 * replica out of a load balancer before it stops listening.
 */
export function registerHealthRoute(app: FastifyInstance, db: Kysely<Database>, isShuttingDown: () => boolean): void {
  const check = async (): Promise<{ status: 'ok' }> => {
    if (isShuttingDown()) throw new GatewayError('service_unavailable', 'The server is shutting down.', { retryAfterSeconds: 1 });
    try {
      await sql`select 1`.execute(db);
    } catch (err) {
      throw new GatewayError('service_unavailable', 'The database is unreachable.', { retryAfterSeconds: 1, cause: err });
    }
    return { status: 'ok' };
  };
  app.get('/healthz', check);
  app.get('/readyz', check);
  // Liveness only: the process answers (no database), so a slow database never restarts it.
  app.get('/livez', async () => ({ status: 'ok' as const }));
}
