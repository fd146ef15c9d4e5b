// Runs before the test suite: the scaled-mode tests need PostgreSQL and Redis, and without them
// the suite would not fail but hang (clients retrying for minutes). This asks each service once,
// with a short timeout, and says which is missing and how to start it. Plain JavaScript like
// check-node.mjs. The defaults and overrides are the ones test/support uses.
import pg from 'pg';
import { Redis } from 'ioredis';

const TIMEOUT_MS = 3000;
const PG_URL = process.env.IMAGEGATE_TEST_PG || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.IMAGEGATE_TEST_REDIS || 'redis://127.0.0.1:6379';

/** A URL as it can be printed: any password replaced. */
function shown(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a valid URL)';
  }
}

/** Rejects after TIMEOUT_MS: a port that accepts but never answers must not hang the check. */
function withTimeout(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function checkPostgres() {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect().then(() => client.query('select 1')));
    return null;
  } catch (err) {
    return (
      `PostgreSQL is not reachable at ${shown(PG_URL)} (${err.message}).\n` +
      '  Start one with trust auth, e.g.:\n' +
      '    docker run -d --name imagegate-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:17\n' +
      '    (or: apt-get install -y postgresql && service postgresql start)\n' +
      '  or point IMAGEGATE_TEST_PG at a running server (postgres://user@host:port/db).'
    );
  } finally {
    client.end().catch(() => {});
  }
}

async function checkRedis() {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() rejects with a bare "Connection is closed."; the 'error' event says why.
  let cause = null;
  redis.on('error', (err) => (cause ??= err));
  try {
    await withTimeout(redis.connect().then(() => redis.ping()));
    return null;
  } catch (err) {
    return (
      `Redis is not reachable at ${shown(REDIS_URL)} (${(cause ?? err).message}).\n` +
      '  Start one, e.g.:\n' +
      '    docker run -d --name imagegate-redis -p 6379:6379 redis:7\n' +
      '    (or: apt-get install -y redis-server && service redis-server start)\n' +
      '  or point IMAGEGATE_TEST_REDIS at a running server (redis://host:port).'
    );
  } finally {
    redis.disconnect();
  }
}

const problems = (await Promise.all([checkPostgres(), checkRedis()])).filter((problem) => problem !== null);
if (problems.length > 0) {
  process.stderr.write(`npm test needs PostgreSQL and Redis for the scaled-mode suites.\n${problems.join('\n')}\n`);
  process.exit(1);
}
