import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';

/**
 * Every setting, parsed once at boot. Sources, later ones winning: built-in defaults, the YAML
 * file (`imagegate.yaml` in the working directory, or IMAGEGATE_CONFIG), environment variables.
 * `*_FILE` variables read a secret from a file (Docker/Kubernetes secrets). Nothing else in the
 * code reads `process.env`.
 */
/** A boolean from YAML or from an environment variable's text (`true`/`false`/`1`/`0`). */
function envBoolean() {
  return z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((text) => text === 'true' || text === '1')]);
}

/** One upstream endpoint. `apiKey` may also come from a file or a named environment variable. */
function ChannelSchema() {
  return z
    .strictObject({
      id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'use letters, digits, dot, dash and underscore'),
      provider: z.string().min(1),
      /** The upstream's API root; optional for providers with a public default (their adapter's `defaultBaseUrl`). */
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      apiKey: z.string().min(1).optional(),
      apiKeyFile: z.string().min(1).optional(),
      apiKeyEnv: z.string().min(1).optional(),
      /** Catalog model id → the upstream's model (or Azure deployment) name. */
      models: z.record(z.string(), z.string().min(1)).refine((m) => Object.keys(m).length > 0, 'list at least one model'),
      /** Higher goes first; equal priorities share traffic by weight. */
      priority: z.coerce.number().int().default(0),
      weight: z.coerce.number().positive().default(1),
      timeoutMs: z.coerce.number().int().min(100).default(120_000),
      maxConcurrency: z.coerce.number().int().min(1).default(32),
      /** The upstream runs on this network (LocalAI, sd.cpp): its image URLs may be private addresses. */
      local: z.boolean().default(false),
      /** Provider-specific settings (Azure `apiVersion`, DashScope `mode` …), checked by the provider's own schema at boot. */
      options: z.record(z.string(), z.unknown()).default({}),
      /** What the operator pays upstream, per model id (or `*`): a price rule or { multiplier } of the list price; checked at boot (ledger/upstream-cost.ts). */
      cost: z.record(z.string(), z.unknown()).optional(),
    })
    .refine((c) => [c.apiKey, c.apiKeyFile, c.apiKeyEnv].filter((v) => v !== undefined).length <= 1, {
      message: 'give at most one of apiKey, apiKeyFile, apiKeyEnv',
    });
}

export type ChannelConfig = z.infer<ReturnType<typeof ChannelSchema>>;

/**
 * Browser origins (`https://app.example.com`, or `*` for any) as a YAML list or, from an
 * environment variable, comma-separated. An origin is scheme, host and port only: a browser sends
 * nothing else in `Origin`, so a path here could never match.
 */
function originList() {
  const origin = z.string().refine((text) => text === '*' || URL.parse(text)?.origin === text, 'an origin such as https://app.example.com (no path), or *');
  return z.union([
    z.array(origin),
    z
      .string()
      .transform((text) =>
        text
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part !== ''),
      )
      .pipe(z.array(origin)),
  ]);
}

const ConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      /** Base of the links in `url` responses; set it when the gateway sits behind a proxy. */
      publicBaseUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Largest JSON body accepted; prompts are at most 32,000 characters. */
      maxBodyBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** How long in-flight requests may run on after SIGTERM before the process exits. */
      shutdownGraceMs: z.coerce.number().int().min(0).default(30_000),
      /**
       * After SIGTERM, how long the server keeps listening and answers 503 (with `/readyz` failing)
       * before it closes, so a load balancer has seen the replica leave. Part of the grace period.
       */
      drainDelayMs: z.coerce.number().int().min(0).default(5000),
      /** The whole request, headers and body, must arrive within this; uploads of big edits need time. */
      requestTimeoutMs: z.coerce.number().int().min(100).default(60_000),
      /** The request line and headers must arrive within this (at most requestTimeoutMs, which includes them). */
      headersTimeoutMs: z.coerce.number().int().min(100).default(10_000),
      /** Connections open at once; more are closed as they arrive. */
      maxConnections: z.coerce.number().int().min(1).default(4096),
      /** The model used when a request names none (CometAPI's API reference gives dall-e-3 as `model`'s default). */
      defaultModel: z.string().min(1).default('dall-e-3'),
      /**
       * A field the chosen model does not take: `error` answers 400 naming it (OpenAI's behaviour);
       * `drop` leaves it out and lists it in `x-imagegate-dropped-params`.
       */
      unsupportedParams: z.enum(['error', 'drop']).default('error'),
      /** Processes sharing the port (node:cluster), to use every core; above 1 needs Redis. */
      workers: z.coerce.number().int().min(1).max(64).default(1),
    })
    .prefault({}),
  storage: z
    .strictObject({
      dataDir: z.string().min(1).default('./data'),
      /** Lifetime of a signed `url` (OpenAI's is 60 minutes). */
      urlTtlSeconds: z.coerce.number().int().min(1).default(3600),
      /** How long images are kept before the sweeper deletes them; at least the URL lifetime. */
      retentionSeconds: z.coerce.number().int().min(1).default(86_400),
      sweepIntervalSeconds: z.coerce.number().int().min(1).default(300),
      /** HMAC secret for signed URLs; generated under dataDir on first start when not set. */
      signingSecret: z.string().min(32, 'must be at least 32 characters').optional(),
      /** An S3-compatible bucket instead of the local disk (scaled mode). */
      s3: z
        .strictObject({
          bucket: z.string().min(1),
          region: z.string().min(1).default('us-east-1'),
          /** For MinIO, R2 and other S3-compatible stores; unset means AWS. */
          endpoint: z.url({ protocol: /^https?$/ }).optional(),
          forcePathStyle: envBoolean().default(false),
          accessKeyId: z.string().min(1).optional(),
          secretAccessKey: z.string().min(1).optional(),
          prefix: z.string().optional(),
          /**
           * true: `url` answers are presigned links straight to the bucket. false: links to this
           * gateway's /files route (signed with signingSecret), which reads from the bucket.
           */
          presignedLinks: envBoolean().default(true),
          /** Host clients reach the bucket at, when it differs from `endpoint`. */
          publicEndpoint: z.url({ protocol: /^https?$/ }).optional(),
        })
        .optional(),
    })
    .prefault({}),
  database: z
    .strictObject({
      /** `postgres://…` switches to PostgreSQL (scaled mode); unset means the embedded SQLite file. */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, "must start with 'postgres://'")
        .optional(),
      /** SQLite file; defaults to `<dataDir>/imagegate.db`. */
      sqlitePath: z.string().min(1).optional(),
      poolSize: z.coerce.number().int().min(1).default(10),
    })
    .prefault({}),
  channels: z.array(ChannelSchema()).default([]),
  /**
   * Models the operator adds or changes: `{id, like?, aliasOf?, …any ModelSpec field}`, checked
   * field by field against the catalog's schema when the catalog is built (src/catalog/build-catalog.ts).
   */
  models: z.array(z.record(z.string(), z.unknown())).default([]),
  /** Other names for models: alias → model id. */
  aliases: z.record(z.string(), z.string().min(1)).default({}),
  /** Price overrides by catalog model id (the catalog's own prices cite their sources), checked with the catalog. */
  prices: z.record(z.string(), z.unknown()).default({}),
  routing: z
    .strictObject({
      /** Once channels exist, whether a model without one is served by the local renderer. */
      fallbackToLocal: envBoolean().default(false),
      /** One deadline for a whole request, every retry and fallback included. */
      deadlineMs: z.coerce.number().int().min(1000).default(180_000),
      /** Upstream calls per request part at the most, over all channels. */
      maxAttempts: z.coerce.number().int().min(1).max(10).default(4),
      backoffBaseMs: z.coerce.number().int().min(1).default(250),
      backoffMaxMs: z.coerce.number().int().min(1).default(8000),
      /** An upstream's Retry-After is honoured up to this; longer waits fall back to another channel. */
      maxRetryAfterMs: z.coerce.number().int().min(0).default(20_000),
      /** Largest upstream image the gateway downloads (URL answers). */
      maxDownloadBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(50 * 1024 * 1024),
      downloadTimeoutMs: z.coerce.number().int().min(100).default(30_000),
      breaker: z
        .strictObject({
          /**
           * Open after this many failures in a row; 0 (the default) judges by failure rate only. A run
           * of five bad answers is routine for a channel failing 20% at random, and opening on it shut
           * a sole channel off for its whole cool-down (1,225 of 2,000 requests refused in a soak).
           */
          consecutiveFailures: z.coerce.number().int().min(0).default(0),
          failureRate: z.coerce.number().min(0).max(1).default(0.5),
          minSamples: z.coerce.number().int().min(1).default(20),
          windowMs: z.coerce.number().int().min(1000).default(60_000),
          cooldownMs: z.coerce.number().int().min(100).default(30_000),
          /** The cool-down of the only channel of a model: a probe this often rather than an outage. */
          soleChannelCooldownMs: z.coerce.number().int().min(100).default(1000),
        })
        .prefault({}),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      pollIntervalMs: z.coerce.number().int().min(10).default(500),
      /** A job's claim; renewed while it runs, so only a dead worker's job is taken over. */
      leaseMs: z.coerce.number().int().min(100).default(30_000),
      /** Async jobs one process runs at once. */
      maxParallel: z.coerce.number().int().min(1).default(4),
    })
    .prefault({}),
  webhooks: z
    .strictObject({
      /** HMAC key for `x-imagegate-signature`; share it with clients. Derived from the signing secret when unset. */
      secret: z.string().min(16).optional(),
      /** Allow webhook targets on private addresses (on-premise receivers, tests). */
      allowPrivate: envBoolean().default(false),
      /** Attempts in all per delivery; the waits between them are firstDelayMs, then ×4 each time. */
      attempts: z.coerce.number().int().min(1).max(10).default(4),
      firstDelayMs: z.coerce.number().int().min(1).default(1000),
      timeoutMs: z.coerce.number().int().min(100).default(10_000),
      /** Deliveries one process sends at once (their own queue, apart from the job slots). */
      maxParallel: z.coerce.number().int().min(1).default(4),
    })
    .prefault({}),
  redis: z
    .strictObject({
      /** `redis://…` moves rate limits, concurrency leases and idempotency records to Redis. */
      url: z
        .string()
        .regex(/^rediss?:\/\//, "must start with 'redis://' or 'rediss://'")
        .optional(),
      /** Prefix of every key, so several gateways (or tests) can share one Redis. */
      keyPrefix: z.string().min(1).default('imagegate:'),
    })
    .prefault({}),
  cors: z
    .strictObject({
      /** Origins whose browser apps may call the API (preflights answered, headers exposed); none by default. */
      origins: originList().default([]),
      /** How long a browser may cache a preflight's answer. */
      maxAgeSeconds: z.coerce.number().int().min(0).max(86_400).default(600),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** A bearer token Prometheus scrapes `/metrics` with, besides admin keys. */
      token: z.string().min(16, 'must be at least 16 characters').optional(),
      /** `/metrics` without any token (a private network, or a scraper that cannot send one). */
      public: envBoolean().default(false),
    })
    .prefault({}),
  /** Where `imagegate generate` sends its requests, and with which key. */
  client: z
    .strictObject({
      /** The server's root, e.g. `http://127.0.0.1:8080`; by default the address this config serves on. */
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      key: z.string().min(1).optional(),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variable → config path. `<NAME>_FILE` is accepted for every entry marked secret. */
const ENV_MAP: ReadonlyArray<{ env: string; path: readonly [string, string] | readonly [string, string, string]; secret?: boolean }> = [
  { env: 'IMAGEGATE_HOST', path: ['server', 'host'] },
  { env: 'IMAGEGATE_PORT', path: ['server', 'port'] },
  { env: 'IMAGEGATE_PUBLIC_BASE_URL', path: ['server', 'publicBaseUrl'] },
  { env: 'IMAGEGATE_MAX_BODY_BYTES', path: ['server', 'maxBodyBytes'] },
  { env: 'IMAGEGATE_SHUTDOWN_GRACE_MS', path: ['server', 'shutdownGraceMs'] },
  { env: 'IMAGEGATE_DRAIN_DELAY_MS', path: ['server', 'drainDelayMs'] },
  { env: 'IMAGEGATE_REQUEST_TIMEOUT_MS', path: ['server', 'requestTimeoutMs'] },
  { env: 'IMAGEGATE_HEADERS_TIMEOUT_MS', path: ['server', 'headersTimeoutMs'] },
  { env: 'IMAGEGATE_MAX_CONNECTIONS', path: ['server', 'maxConnections'] },
  { env: 'IMAGEGATE_DEFAULT_MODEL', path: ['server', 'defaultModel'] },
  { env: 'IMAGEGATE_UNSUPPORTED_PARAMS', path: ['server', 'unsupportedParams'] },
  { env: 'IMAGEGATE_WORKERS', path: ['server', 'workers'] },
  { env: 'IMAGEGATE_DATA_DIR', path: ['storage', 'dataDir'] },
  { env: 'IMAGEGATE_URL_TTL_SECONDS', path: ['storage', 'urlTtlSeconds'] },
  { env: 'IMAGEGATE_RETENTION_SECONDS', path: ['storage', 'retentionSeconds'] },
  { env: 'IMAGEGATE_SWEEP_INTERVAL_SECONDS', path: ['storage', 'sweepIntervalSeconds'] },
  { env: 'IMAGEGATE_SIGNING_SECRET', path: ['storage', 'signingSecret'], secret: true },
  { env: 'IMAGEGATE_SQLITE_PATH', path: ['database', 'sqlitePath'] },
  { env: 'IMAGEGATE_S3_BUCKET', path: ['storage', 's3', 'bucket'] },
  { env: 'IMAGEGATE_S3_REGION', path: ['storage', 's3', 'region'] },
  { env: 'IMAGEGATE_S3_ENDPOINT', path: ['storage', 's3', 'endpoint'] },
  { env: 'IMAGEGATE_S3_FORCE_PATH_STYLE', path: ['storage', 's3', 'forcePathStyle'] },
  { env: 'IMAGEGATE_S3_ACCESS_KEY_ID', path: ['storage', 's3', 'accessKeyId'] },
  { env: 'IMAGEGATE_S3_SECRET_ACCESS_KEY', path: ['storage', 's3', 'secretAccessKey'], secret: true },
  { env: 'IMAGEGATE_S3_PREFIX', path: ['storage', 's3', 'prefix'] },
  { env: 'IMAGEGATE_S3_PRESIGNED_LINKS', path: ['storage', 's3', 'presignedLinks'] },
  { env: 'IMAGEGATE_S3_PUBLIC_ENDPOINT', path: ['storage', 's3', 'publicEndpoint'] },
  { env: 'DATABASE_URL', path: ['database', 'url'], secret: true },
  { env: 'IMAGEGATE_DB_POOL_SIZE', path: ['database', 'poolSize'] },
  { env: 'REDIS_URL', path: ['redis', 'url'], secret: true },
  { env: 'IMAGEGATE_JOB_POLL_INTERVAL_MS', path: ['jobs', 'pollIntervalMs'] },
  { env: 'IMAGEGATE_JOB_LEASE_MS', path: ['jobs', 'leaseMs'] },
  { env: 'IMAGEGATE_WEBHOOK_SECRET', path: ['webhooks', 'secret'], secret: true },
  { env: 'IMAGEGATE_WEBHOOK_ALLOW_PRIVATE', path: ['webhooks', 'allowPrivate'] },
  { env: 'IMAGEGATE_WEBHOOK_FIRST_DELAY_MS', path: ['webhooks', 'firstDelayMs'] },
  { env: 'IMAGEGATE_WEBHOOK_ATTEMPTS', path: ['webhooks', 'attempts'] },
  { env: 'IMAGEGATE_WEBHOOK_MAX_PARALLEL', path: ['webhooks', 'maxParallel'] },
  { env: 'IMAGEGATE_REDIS_PREFIX', path: ['redis', 'keyPrefix'] },
  { env: 'IMAGEGATE_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'IMAGEGATE_CORS_ORIGINS', path: ['cors', 'origins'] },
  { env: 'IMAGEGATE_CORS_MAX_AGE_SECONDS', path: ['cors', 'maxAgeSeconds'] },
  { env: 'IMAGEGATE_METRICS_TOKEN', path: ['metrics', 'token'], secret: true },
  { env: 'IMAGEGATE_METRICS_PUBLIC', path: ['metrics', 'public'] },
  { env: 'IMAGEGATE_BASE_URL', path: ['client', 'baseUrl'] },
  { env: 'IMAGEGATE_KEY', path: ['client', 'key'], secret: true },
];

/** Environment variables holding a whole list as JSON, and the config key each replaces. */
const JSON_LISTS: ReadonlyArray<readonly [env: string, key: string, what: string]> = [
  ['IMAGEGATE_CHANNELS', 'channels', 'channels'],
  ['IMAGEGATE_MODELS', 'models', 'model entries'],
];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the whole configuration; throws ConfigError naming the bad field. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const raw = readYaml(env, cwd);
  for (const entry of ENV_MAP) {
    const value = readEnv(env, entry.env, entry.secret === true);
    if (value === undefined) continue;
    let target: Record<string, unknown> = raw;
    for (const part of entry.path.slice(0, -1)) {
      const next = (target[part] ??= {});
      if (!isRecord(next)) throw new ConfigError(`config: '${part}' must be a mapping`);
      target = next;
    }
    target[entry.path[entry.path.length - 1] ?? ''] = value;
  }
  for (const [name, key, what] of JSON_LISTS) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    try {
      raw[key] = JSON.parse(text);
    } catch {
      throw new ConfigError(`${name} must be a JSON array of ${what}`);
    }
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  if (config.server.workers > 1 && config.redis.url === undefined) {
    // In-process limits would be per worker: a key's 10 requests a minute would become 10 per worker.
    throw new ConfigError('server.workers: more than one worker needs REDIS_URL, so limits and idempotency are shared between them');
  }
  if (config.server.shutdownGraceMs > 0 && config.server.drainDelayMs >= config.server.shutdownGraceMs) {
    throw new ConfigError('server.drainDelayMs: must be shorter than server.shutdownGraceMs, which includes it');
  }
  if (config.server.workers > 1 && config.server.port === 0) throw new ConfigError('server.workers: workers share one fixed port; set server.port');
  config.channels = config.channels.map((channel, index) => ({ ...channel, ...resolveChannelKey(channel, index, env) }));
  return config;
}

/** Reads a channel's key from its file or environment variable, once, at boot. */
function resolveChannelKey(channel: ChannelConfig, index: number, env: Env): { apiKey?: string } {
  const where = `channels.${index} (${channel.id})`;
  if (channel.apiKeyFile !== undefined) {
    try {
      return { apiKey: readFileSync(channel.apiKeyFile, 'utf8').trim() };
    } catch {
      throw new ConfigError(`${where}.apiKeyFile: cannot read ${channel.apiKeyFile}`);
    }
  }
  if (channel.apiKeyEnv !== undefined) {
    const value = env[channel.apiKeyEnv];
    if (value === undefined || value === '') throw new ConfigError(`${where}.apiKeyEnv: ${channel.apiKeyEnv} is not set`);
    return { apiKey: value };
  }
  return channel.apiKey === undefined ? {} : { apiKey: channel.apiKey };
}

/** The base of public links: the configured one, or the address the server listens on. */
export function publicBaseUrl(config: Config, listeningPort: number): string {
  if (config.server.publicBaseUrl !== undefined) return config.server.publicBaseUrl.replace(/\/+$/, '');
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listeningPort}`;
}

export function sqlitePath(config: Config): string {
  return config.database.sqlitePath ?? path.join(config.storage.dataDir, 'imagegate.db');
}

function readYaml(env: Env, cwd: string): Record<string, unknown> {
  const explicit = env['IMAGEGATE_CONFIG'];
  const file = explicit ?? path.join(cwd, 'imagegate.yaml');
  if (!existsSync(file)) {
    if (explicit !== undefined) throw new ConfigError(`config file ${explicit} (IMAGEGATE_CONFIG) does not exist`);
    return {};
  }
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw new ConfigError(`config file ${file} must hold a mapping at the top level`);
  return doc;
}

function readEnv(env: Env, name: string, secret: boolean): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const fileName = secret ? env[`${name}_FILE`] : undefined;
  if (fileName === undefined || fileName === '') return undefined;
  try {
    return readFileSync(fileName, 'utf8').trim();
  } catch {
    // The path is not secret; the file's content is, and is never echoed.
    throw new ConfigError(`${name}_FILE: cannot read ${fileName}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
