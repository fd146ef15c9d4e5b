import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { Deps } from './app.ts';
import { buildCatalog, CatalogError, MODELS } from './catalog/index.ts';
import { type Config, ConfigError, publicBaseUrl, sqlitePath } from './config.ts';
import type { ContractSettings } from './contract/generation.ts';
import { openDatabase } from './db/database.ts';
import { ImagesRepo } from './db/images-repo.ts';
import { JobsRepo } from './db/jobs-repo.ts';
import { KeysRepo } from './db/keys-repo.ts';
import { WebhooksRepo } from './db/webhooks-repo.ts';
import { migrateToLatest } from './db/migrations.ts';
import { OrganizationsRepo } from './db/organizations-repo.ts';
import { PriceGroupsRepo } from './db/price-groups-repo.ts';
import { createGuardedAgent } from './http/guarded-agent.ts';
import { lookupAddresses } from './http/public-target.ts';
import { JobRunner } from './images/job-runner.ts';
import type { ImagesDeps } from './images/types.ts';
import { WebhookDispatcher } from './images/webhook-dispatcher.ts';
import { WebhookSender } from './images/webhook-sender.ts';
import type { WebhookTargetPolicy } from './images/webhook-target.ts';
import { MoneyAnomalies } from './ledger/anomalies.ts';
import { Ledger } from './ledger/ledger.ts';
import { PriceBook } from './ledger/price-book.ts';
import { type ChannelCosts, parseChannelCosts } from './ledger/upstream-cost.ts';
import { createLimits } from './limits/index.ts';
import { PromMetrics } from './observe/metrics.ts';
import { PROVIDERS } from './providers/registry.ts';
import { PollPacer } from './providers/shared/poll-pacer.ts';
import { buildChannels } from './routing/build-channels.ts';
import { Router } from './routing/router.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { FsBlobStore } from './storage/fs-blob-store.ts';
import type { LinkSigner } from './storage/link-signer.ts';
import { loadOrCreateSigningSecret } from './storage/secret.ts';
import { UrlSigner } from './storage/url-signer.ts';
import { InflightRequests } from './images/inflight.ts';

/**
 * Builds the backends the config names and brings the database schema up to date. The port the
 * server will listen on is needed for the default public link base. `now` is the one clock every
 * part reads (epoch milliseconds); tests pass one they can move.
 */
export async function createDeps(config: Config, logger: Logger, listeningPort: number, now: () => number = Date.now): Promise<Deps> {
  mkdirSync(config.storage.dataDir, { recursive: true });
  const { db, dialect } = openDatabase({
    url: config.database.url,
    sqlitePath: sqlitePath(config),
    poolSize: config.database.poolSize,
    onIdleError: (err) => logger.warn({ err: err.message }, 'an idle database connection was closed'),
  });
  await migrateToLatest(db, dialect);
  const secret = await loadOrCreateSigningSecret(config.storage.dataDir, config.storage.signingSecret);
  const catalog = catalogOf(config);
  if (catalog.get(config.server.defaultModel) === undefined) {
    throw new ConfigError(`server.defaultModel: '${config.server.defaultModel}' is not a catalog model`);
  }
  const contract: ContractSettings = { catalog, defaultModel: config.server.defaultModel, unsupportedParams: config.server.unsupportedParams };
  const built = buildChannels(config.channels, PROVIDERS, catalog, config.routing);
  const limits = createLimits(config.redis.url, config.redis.keyPrefix, {
    onRedisError: (err) => logger.error({ err: err.message }, 'redis connection error'),
  });
  const board = limits.breakerBoard(built.channels.map((routed) => routed.channel.id));
  // Counted per process; `/metrics` reads them, with the money anomalies, from one registry.
  const anomalies = new MoneyAnomalies(logger);
  const metrics = new PromMetrics({ anomalies: () => anomalies.counter.counts(), bodyReads: () => built.bodyReads });
  const observer = { attempt: metrics.upstreamAttempt.bind(metrics), breaker: metrics.breakerChanged.bind(metrics) };
  const router = new Router({ channels: built.channels, local: built.local, settings: config.routing, logger, board, now, pacer: new PollPacer(), observer });
  const signer = new UrlSigner(secret, publicBaseUrl(config, listeningPort));
  const storage = await createStorage(config, signer, now);
  const keys = new KeysRepo(db);
  const images = new ImagesRepo(db);
  const ledger = new Ledger(db, dialect, now, anomalies);
  const organizations = new OrganizationsRepo(db);
  const priceGroups = new PriceGroupsRepo(db);
  const channelCosts = channelCostsOf(config);
  const jobs = new JobsRepo(db, dialect);
  // A request ends by its deadline; a hold older than twice that belongs to a dead process.
  const holdTtlMs = config.routing.deadlineMs * 2 + 60_000;
  const retentionSeconds = Math.max(config.storage.retentionSeconds, config.storage.urlTtlSeconds);
  const imagesDeps: ImagesDeps = {
    router,
    inflight: new InflightRequests(),
    ledger,
    limits,
    holdTtlMs,
    blobs: storage.blobs,
    images,
    links: storage.links,
    urlTtlSeconds: config.storage.urlTtlSeconds,
    retentionSeconds,
    now,
    anomalies,
    prices: new PriceBook(organizations, priceGroups),
    channelCosts,
    metrics,
  };
  const webhookSecret =
    config.webhooks.secret === undefined ? createHmac('sha256', secret).update('imagegate webhooks').digest() : Buffer.from(config.webhooks.secret, 'utf8');
  const webhookAgent = config.webhooks.allowPrivate ? new Agent() : createGuardedAgent({ connectTimeoutMs: 10_000 });
  const webhooks = new WebhooksRepo(db, dialect);
  const webhookDispatcher = new WebhookDispatcher({
    deliveries: webhooks,
    sender: new WebhookSender({
      secret: webhookSecret,
      dispatcher: webhookAgent,
      allowPrivate: config.webhooks.allowPrivate,
      timeoutMs: config.webhooks.timeoutMs,
    }),
    links: storage.links,
    blobs: storage.blobs,
    urlTtlSeconds: config.storage.urlTtlSeconds,
    logger,
    now,
    pollIntervalMs: config.jobs.pollIntervalMs,
    // An attempt ends by its timeout; the rest of a jobs lease covers reading images back for it.
    leaseMs: config.webhooks.timeoutMs + config.jobs.leaseMs,
    maxParallel: config.webhooks.maxParallel,
    attempts: config.webhooks.attempts,
    firstDelayMs: config.webhooks.firstDelayMs,
  });
  // getaddrinfo's own retries can last 20 s and more when DNS is down; a submit waits 5 s at most.
  const webhookTargets: WebhookTargetPolicy = { allowPrivate: config.webhooks.allowPrivate, resolve: lookupAddresses, resolveTimeoutMs: 5_000 };
  const jobRunner = new JobRunner({
    jobs,
    keys,
    contract,
    images: imagesDeps,
    logger,
    pollIntervalMs: config.jobs.pollIntervalMs,
    leaseMs: config.jobs.leaseMs,
    maxParallel: config.jobs.maxParallel,
  });
  return {
    logger,
    catalog,
    router,
    bodyReads: built.bodyReads,
    closeBackends: async () => {
      await built.close();
      await webhookAgent.close();
      await limits.close();
      storage.close();
      await db.destroy();
    },
    db,
    keys,
    organizations,
    priceGroups,
    imagesRepo: images,
    ledger,
    limits,
    jobs,
    jobRunner,
    webhooks,
    webhookDispatcher,
    webhookTargets,
    images: imagesDeps,
    contract,
    anomalies: anomalies.counter,
    metrics,
    cors: config.cors,
    metricsAccess: { token: config.metrics.token ?? null, public: config.metrics.public },
    holdTtlMs,
    blobs: storage.blobs,
    signer,
    links: storage.links,
    maxBodyBytes: config.server.maxBodyBytes,
    http: {
      requestTimeoutMs: config.server.requestTimeoutMs,
      // Node refuses a headers timeout longer than the request timeout that contains it.
      headersTimeoutMs: Math.min(config.server.headersTimeoutMs, config.server.requestTimeoutMs),
      maxConnections: config.server.maxConnections,
    },
    urlTtlSeconds: config.storage.urlTtlSeconds,
    now,
  };
}

/** The built-in models with the operator's `models:`, `aliases:` and `prices:` applied. */
function catalogOf(config: Config) {
  try {
    return buildCatalog(MODELS, { models: config.models, aliases: config.aliases, prices: config.prices });
  } catch (err) {
    // A bad model entry is a configuration error like any other: the start stops, naming it.
    if (err instanceof CatalogError) throw new ConfigError(err.message);
    throw err;
  }
}

/** The channels' `cost:` sections; a bad one stops the start like any configuration error. */
function channelCostsOf(config: Config): ChannelCosts {
  try {
    return parseChannelCosts(config.channels);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Local disk with the gateway's own links, or an S3 bucket with presigned (or gateway) links. The
 * S3 client is loaded only for a bucket: on one machine its ~10 MB of modules would only make
 * every garbage collection mark more.
 */
async function createStorage(config: Config, signer: UrlSigner, now: () => number): Promise<{ blobs: BlobStore; links: LinkSigner; close: () => void }> {
  const s3 = config.storage.s3;
  if (s3 === undefined) return { blobs: new FsBlobStore(path.join(config.storage.dataDir, 'images')), links: signer, close: () => {} };
  const [{ S3BlobStore }, { S3UrlSigner }] = await Promise.all([import('./storage/s3-blob-store.ts'), import('./storage/s3-url-signer.ts')]);
  const options = {
    bucket: s3.bucket,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.accessKeyId === undefined ? {} : { accessKeyId: s3.accessKeyId }),
    ...(s3.secretAccessKey === undefined ? {} : { secretAccessKey: s3.secretAccessKey }),
    ...(s3.prefix === undefined ? {} : { prefix: s3.prefix }),
  };
  const blobs = new S3BlobStore(options);
  const presigner = s3.presignedLinks
    ? new S3UrlSigner({ ...options, ...(s3.publicEndpoint === undefined ? {} : { publicEndpoint: s3.publicEndpoint }) }, now)
    : null;
  return {
    blobs,
    links: presigner ?? signer,
    close: () => {
      blobs.close();
      presigner?.close();
    },
  };
}
