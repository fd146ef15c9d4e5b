import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { registerAdminKeyRoutes } from './api/admin/keys.ts';
import { answerUnknownExpectation, createClientErrorHandler, shutdownRefusal } from './api/client-errors.ts';
import { trackConnections } from './api/connection-tracker.ts';
import { checkBodyText, checkRequestLine } from './api/input-boundary.ts';
import { rawErrorResponse } from './api/raw-error-response.ts';
import { newRequestId } from './api/request-id.ts';
import { AccessLogController, observeRequests } from './api/access-log.ts';
import { type CorsSettings, registerCors } from './api/cors.ts';
import { registerApiDocs } from './api/docs/routes.ts';
import { registerQuoteRoute } from './api/images-quote.ts';
import { type MetricsAccess, registerMetricsRoute } from './api/metrics-route.ts';
import { registerAdminUsageRoute } from './api/admin/usage.ts';
import { registerResellerRoutes } from './api/admin/reseller.ts';
import { registerAdminChannelsRoute } from './api/admin/channels.ts';
import { registerConsoleRoutes } from './api/console.ts';
import { registerFileRoutes } from './api/files.ts';
import { registerUsageRoute } from './api/usage.ts';
import { authHook } from './api/auth.ts';
import { registerHealthRoute } from './api/health.ts';
import { registerHistoryRoutes } from './api/images-history.ts';
import { registerJobRoutes } from './api/images-jobs.ts';
import { registerEditsRoute } from './api/images-edits.ts';
import { registerGenerationsRoute } from './api/images-generations.ts';
import { registerVariationsRoute } from './api/images-variations.ts';
import { registerModelsRoutes } from './api/models.ts';
import type { Catalog } from './catalog/index.ts';
import type { ContractSettings } from './contract/generation.ts';
import type { ImagesRepo } from './db/images-repo.ts';
import type { JobsRepo } from './db/jobs-repo.ts';
import type { KeysRepo } from './db/keys-repo.ts';
import type { OrganizationsRepo } from './db/organizations-repo.ts';
import type { PriceGroupsRepo } from './db/price-groups-repo.ts';
import type { WebhooksRepo } from './db/webhooks-repo.ts';
import type { JobRunner } from './images/job-runner.ts';
import type { WebhookDispatcher } from './images/webhook-dispatcher.ts';
import type { WebhookTargetPolicy } from './images/webhook-target.ts';
import type { ImagesDeps } from './images/types.ts';
import type { Ledger } from './ledger/ledger.ts';
import type { Limits } from './limits/index.ts';
import type { Database } from './db/schema.ts';
import { errorHeaders, GatewayError, renderError } from './errors.ts';
import type { AnomalyCounter } from './ledger/anomalies.ts';
import type { Metrics } from './observe/metrics.ts';
import type { Router } from './routing/router.ts';
import type { BlobStore } from './storage/blob-store.ts';
import type { LinkSigner } from './storage/link-signer.ts';
import type { UrlSigner } from './storage/url-signer.ts';
import type { BodyReads } from './http/body-reads.ts';
import { ClientDisconnected } from './api/abort-on-disconnect.ts';

/** Everything the HTTP app needs, built by `main.ts` (or a test) from the config. */
export interface Deps {
  readonly logger: Logger;
  readonly catalog: Catalog;
  readonly router: Router;
  /** Upstream bodies in memory and their buffer pool (http/body-reads.ts), for metrics and tests. */
  readonly bodyReads: BodyReads;
  /** Closes upstream pools, Redis, S3 clients and the database (at shutdown, after the server). */
  readonly closeBackends: () => Promise<void>;
  readonly db: Kysely<Database>;
  readonly keys: KeysRepo;
  readonly organizations: OrganizationsRepo;
  readonly priceGroups: PriceGroupsRepo;
  readonly imagesRepo: ImagesRepo;
  readonly ledger: Ledger;
  readonly limits: Limits;
  readonly jobs: JobsRepo;
  /** Runs async jobs in the background; started by `serve` (and tests), stopped at shutdown. */
  readonly jobRunner: JobRunner;
  /** The webhook deliveries queue, and what sends it (started and stopped with the job runner). */
  readonly webhooks: WebhooksRepo;
  readonly webhookDispatcher: WebhookDispatcher;
  /** Which `webhook_url`s a job may name (checked when it is submitted). */
  readonly webhookTargets: WebhookTargetPolicy;
  /** The images use case's dependencies, shared by the routes and the job runner. */
  readonly images: ImagesDeps;
  /** How requests are validated: catalog, default model, unsupported fields. */
  readonly contract: ContractSettings;
  /** Money anomalies seen by this process (untrustworthy upstream usage, clamped charges), for metrics. */
  readonly anomalies: AnomalyCounter;
  /** This process's metrics registry (`/metrics`), fed by the app, the use case and the router. */
  readonly metrics: Metrics;
  readonly cors: CorsSettings;
  readonly metricsAccess: MetricsAccess;
  readonly blobs: BlobStore;
  /** Signs and checks the gateway's own `/files` links. */
  readonly signer: UrlSigner;
  /** Makes the links of `url` answers (the gateway's own, or presigned S3 links). */
  readonly links: LinkSigner;
  readonly maxBodyBytes: number;
  /** How long a client may take to send a request, and how many connections may be open. */
  readonly http: HttpLimits;
  readonly urlTtlSeconds: number;
  readonly holdTtlMs: number;
  /** Epoch milliseconds; injectable so tests can move time. */
  readonly now: () => number;
}

/** The HTTP server's own limits (`server.*` in the config). */
export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this (Node's requestTimeout). */
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** Connections over this are closed as they arrive (Node's server.maxConnections). */
  readonly maxConnections: number;
}

/** Node's default header limit, set explicitly so the 431 answer can state it. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface App {
  readonly fastify: FastifyInstance;
  /**
   * Refuse new requests with 503 from now on (`/readyz` too), while still listening, so a load
   * balancer sees the replica leave instead of connections refused; in-flight ones run to the end.
   */
  beginShutdown(): void;
  /**
   * Graceful stop: no new requests, in-flight ones finish, then the server closes. Keep-alive
   * connections are closed as soon as they are idle, including ones that become idle during the
   * wait (a single closeIdleConnections at the start misses those, and Node would otherwise wait
   * out their keep-alive timeout). Requests whose body is still arriving are answered 503 and cut.
   */
  close(): Promise<void>;
}

/** Builds the HTTP app. No listening, no globals, no side effects beyond the returned object. */
export function buildApp(deps: Deps): App {
  let shuttingDown = false;
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const limits = deps.http;
  const app = Fastify({
    loggerInstance,
    bodyLimit: deps.maxBodyBytes,
    genReqId: newRequestId,
    // Fastify's default of 0 leaves request bodies without any time limit.
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks these timeouts on an interval (30 s by default), far coarser than they are.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
      maxHeaderSize: MAX_HEADER_BYTES,
      // Node answers a missing Host with an empty 400; input-boundary.ts answers it in the envelope.
      requireHostHeader: false,
    },
    // Parser errors (and the timeouts above) in the OpenAI envelope instead of Fastify's body.
    clientErrorHandler: createClientErrorHandler({
      logger: deps.logger,
      isShuttingDown: () => shuttingDown,
      limits: { headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs, maxHeaderBytes: MAX_HEADER_BYTES },
    }),
    // Fastify's own 503 while closing has its own body; the onRequest hook below answers instead.
    return503OnClosing: false,
    // One access log line per request instead of Fastify's two (api/access-log.ts).
    logController: new AccessLogController(),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Content-addressed file names are long; Fastify's default of 100 characters is enough, but
    // a clear limit keeps absurd URLs from reaching the router.
    routerOptions: { maxParamLength: 200 },
    // Malformed URLs (bad percent-encoding) fail before routing; answer them in our envelope too.
    frameworkErrors: (_error, request, reply) => {
      const error = new GatewayError('not_found', 'The request URL is malformed.');
      const { status, body } = renderError(error, request.id);
      // This hook's reply is typed for an unknown route; it is a plain reply all the same.
      const plain = reply as unknown as FastifyReply;
      void plain.header('x-request-id', request.id).headers(errorHeaders(error)).code(status).send(body);
    },
  });
  app.decorateRequest('apiKey', null);

  const connections = trackConnections(app.server);
  app.server.maxConnections = limits.maxConnections;
  app.server.on('checkExpectation', answerUnknownExpectation);
  // Fastify parses text/plain by default; this API takes JSON only (and multipart where noted), so
  // anything else is a 415 rather than a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  // Before any hook that may refuse a request, so refusals are logged and counted too.
  observeRequests(app, deps.metrics, () => deps.logger.isLevelEnabled('debug'));
  registerCors(app, deps.cors);

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (shuttingDown) {
      void reply.header('connection', 'close');
      throw shutdownRefusal();
    }
    checkRequestLine(request);
  });
  app.addHook('preValidation', async (request) => checkBodyText(request));

  // Responses finished during shutdown close their connection, so keep-alive sockets of in-flight
  // requests do not hold the server open after their last response.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) void reply.header('connection', 'close');
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = mapFrameworkError(error);
    const { status, body } = renderError(mapped, request.id);
    // A client that left is no failure of ours (its access log line says 499): the work stopped for
    // it, or the answer's stream was cut as it went out.
    if (error instanceof ClientDisconnected || (error.code === 'ERR_STREAM_PREMATURE_CLOSE' && reply.raw.destroyed)) {
      request.log.info('the client left before its answer');
    } else if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.error.code, status }, 'request refused');
    // After a framing fault nothing more on this connection can be trusted.
    if (mapped instanceof GatewayError && mapped.code === 'malformed_request') void reply.header('connection', 'close');
    return reply.headers(errorHeaders(mapped)).code(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('not_found', `Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`);
    const { status, body } = renderError(error, request.id);
    return reply.headers(errorHeaders(error)).code(status).send(body);
  });

  registerHealthRoute(app, deps.db, () => shuttingDown);
  registerFileRoutes(app, { blobs: deps.blobs, signer: deps.signer, now: () => Math.floor(deps.now() / 1000) });
  registerConsoleRoutes(app);
  registerMetricsRoute(app, { metrics: deps.metrics, keys: deps.keys, now: deps.now, access: deps.metricsAccess });
  registerApiDocs(app, { catalog: deps.catalog, defaultModel: deps.contract.defaultModel, providersFor: (model) => deps.router.providersFor(model) });

  void app.register(async (admin) => {
    admin.addHook('onRequest', authHook(deps.keys, 'admin', deps.now));
    registerAdminKeyRoutes(admin, { keys: deps.keys, catalog: deps.catalog, organizations: deps.organizations });
    registerAdminUsageRoute(admin, { db: deps.db, now: deps.now });
    registerResellerRoutes(admin, deps);
    registerAdminChannelsRoute(admin, { router: deps.router, now: deps.now });
  });

  void app.register(async (v1) => {
    v1.addHook('onRequest', authHook(deps.keys, 'user', deps.now));
    registerUsageRoute(v1, { db: deps.db, now: deps.now });
    registerHistoryRoutes(v1, { images: deps.imagesRepo, links: deps.links, urlTtlSeconds: deps.urlTtlSeconds, now: deps.now });
    registerModelsRoutes(v1, { catalog: deps.catalog, router: deps.router, createdSeconds: CATALOG_CREATED_SECONDS });
    const stored = { links: deps.links, blobs: deps.blobs, urlTtlSeconds: deps.urlTtlSeconds, now: deps.now };
    const jobs = { ...stored, jobs: deps.jobs, contract: deps.contract, limits: deps.limits, webhookTargets: deps.webhookTargets };
    registerJobRoutes(v1, jobs);
    const idempotency = { ...stored, store: deps.limits.idempotency, inProgressTtlMs: deps.holdTtlMs };
    const images = { contract: deps.contract, images: deps.images, idempotency };
    registerGenerationsRoute(v1, { ...images, jobs });
    registerEditsRoute(v1, images);
    registerVariationsRoute(v1, images);
    registerQuoteRoute(v1, { contract: deps.contract });
  });

  return {
    fastify: app,
    beginShutdown: () => {
      shuttingDown = true;
    },
    close: async () => {
      shuttingDown = true;
      const sweep = (): void => {
        const cut = connections.cutUnfinished(() => rawErrorResponse(shutdownRefusal(), newRequestId()));
        if (cut > 0) deps.logger.warn({ cut }, 'shutdown: cut requests whose body had not arrived');
        connections.closeIdle();
      };
      const sweeper = setInterval(sweep, 50);
      try {
        sweep();
        await app.close();
      } finally {
        clearInterval(sweeper);
      }
    },
  };
}

/** 2026-11-01T00:00:00Z: when this catalog was last revised. */
const CATALOG_CREATED_SECONDS = 1_793_491_200;

/** Fastify's own errors (body parsing, limits) become the matching OpenAI errors. */
function mapFrameworkError(error: FastifyError): unknown {
  if (error instanceof GatewayError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', "Unsupported Content-Type; send 'application/json'.");
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_value', 'The Content-Length header does not match the body.');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new GatewayError('invalid_json', `We could not parse the JSON body of your request: ${error.message}.`);
  }
  if (error.statusCode === 400) {
    return new GatewayError('invalid_value', error.message);
  }
  return error;
}
