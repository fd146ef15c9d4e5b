import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import type { DestinationStream } from 'pino';
import { buildApp, type App, type Deps } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import { freePort } from './free-port.ts';
import { type S3TestServer, startS3Server } from './s3-server.ts';

export interface TestGateway {
  readonly baseUrl: string;
  readonly key: string;
  readonly deps: Deps;
  readonly app: App;
  readonly dataDir: string;
  /** The official client, pointed at this gateway. */
  client(options?: { apiKey?: string }): OpenAI;
  /** Sets the clock the gateway reads (epoch ms); `null` returns to real time. */
  setNow(nowMs: number | null): void;
  close(): Promise<void>;
}

/**
 * A real gateway on 127.0.0.1 with a fresh data folder and one API key, built from the same
 * config loader and dependency wiring as `imagegate serve`.
 */
export async function startGateway(
  env: Record<string, string> = {},
  mode: 'embedded' | 'scaled' = 'embedded',
  /**
   * Where the log goes (set IMAGEGATE_LOG_LEVEL in `env` too; it is silent by default). A
   * `dataDir` given is used and kept (a restart: another gateway on the same files); set
   * DATABASE_URL in `env` to restart on the same PostgreSQL database too.
   */
  options: { logDestination?: DestinationStream; dataDir?: string } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'imagegate-test-'));
  const scaled = mode === 'scaled' ? await scaledBackends() : null;
  if (scaled !== null) Object.assign(env, scaled.env);
  const config = loadConfig({ IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_LOG_LEVEL: 'silent', IMAGEGATE_JOB_POLL_INTERVAL_MS: '50', ...env }, dataDir);
  const logger = createLogger(config.log.level, options.logDestination);
  const port = await freePort();
  let fakeNowMs: number | null = null;
  // One clock for every part of the gateway (generation, jobs, ledger, links), which tests move.
  const deps = await createDeps(config, logger, port, () => fakeNowMs ?? Date.now());
  const app = buildApp(deps);
  await app.fastify.listen({ host: '127.0.0.1', port });
  deps.jobRunner.start();
  deps.webhookDispatcher.start();
  const created = await deps.keys.create({ name: 'test' });
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    key: created.plaintext,
    deps,
    app,
    dataDir,
    client: (options = {}) => new OpenAI({ apiKey: options.apiKey ?? created.plaintext, baseURL: `${baseUrl}/v1`, maxRetries: 0 }),
    setNow: (nowMs) => {
      fakeNowMs = nowMs;
    },
    close: async () => {
      await app.close();
      await deps.jobRunner.stop();
      await deps.webhookDispatcher.stop();
      await deps.images.inflight.settled();
      await deps.closeBackends();
      await scaled?.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The settings that put a gateway on a test database, Redis prefix and bucket. */
export function scaledEnv(database: TestDatabase, s3: S3TestServer, redisUrl: string, prefix: string): Record<string, string> {
  return {
    DATABASE_URL: database.url ?? '',
    REDIS_URL: redisUrl,
    IMAGEGATE_REDIS_PREFIX: prefix,
    IMAGEGATE_S3_BUCKET: s3.bucket,
    IMAGEGATE_S3_REGION: s3.region,
    IMAGEGATE_S3_ENDPOINT: s3.endpoint,
    IMAGEGATE_S3_FORCE_PATH_STYLE: 'true',
    IMAGEGATE_S3_ACCESS_KEY_ID: s3.accessKeyId,
    IMAGEGATE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

/** A fresh PostgreSQL database, a Redis key prefix and an S3 bucket: the scaled column of DESIGN.md. */
async function scaledBackends(): Promise<{ env: Record<string, string>; close: () => Promise<void> }> {
  const database = await createTestDatabase('postgres');
  const s3 = await startS3Server();
  const prefix = `imagegate-test:${randomBytes(6).toString('hex')}:`;
  const redisUrl = process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
  return {
    env: scaledEnv(database, s3, redisUrl, prefix),
    close: async () => {
      await database.drop();
      await s3.close();
      const redis = new Redis(redisUrl);
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length > 0) await redis.del(...stale);
      await redis.quit();
    },
  };
}
