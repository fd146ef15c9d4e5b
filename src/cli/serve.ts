import cluster from 'node:cluster';
import { buildApp } from '../app.ts';
import type { Config } from '../config.ts';
import type { CreatedKey, KeysRepo } from '../db/keys-repo.ts';
import { createDeps } from '../deps.ts';
import { sweepExpired } from '../images/sweep-expired.ts';
import { createLogger } from '../log.ts';

/**
 * `imagegate serve`: the gateway. On the very first start (no key yet) it creates an API key and
 * prints it once, on stdout and never in the log, with a ready-to-paste request.
 */
export async function serve(config: Config): Promise<void> {
  if (config.server.workers > 1 && cluster.isPrimary) return supervise(config);
  const logger = createLogger(config.log.level);
  const deps = await createDeps(config, logger, config.server.port);
  const app = buildApp(deps);

  // With workers, the supervisor created the first keys and printed them before forking.
  const { firstKey, adminKey } = cluster.isWorker ? { firstKey: null, adminKey: null } : await createFirstKeys(deps.keys);

  await app.fastify.listen({ host: config.server.host, port: config.server.port });
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  for (const model of deps.catalog.all()) {
    logger.info({ model: model.id, providers: deps.router.providersFor(model) }, 'model served');
  }

  if (firstKey !== null || adminKey !== null) {
    const base = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
    process.stdout.write(firstRunBanner(firstKey?.plaintext ?? null, adminKey?.plaintext ?? null, base));
  }

  const sweep = async (): Promise<void> => {
    try {
      await sweepExpired({ images: deps.imagesRepo, blobs: deps.blobs, logger }, Date.now());
      const released = await deps.ledger.releaseExpiredHolds();
      if (released > 0) logger.warn({ released }, 'released budget holds of requests that never finished');
    } catch (err) {
      logger.error({ err }, 'sweep failed');
    }
  };
  deps.jobRunner.start();
  deps.webhookDispatcher.start();
  // One sweeper is enough: with workers, the first one sweeps.
  const sweeps = !cluster.isWorker || cluster.worker?.id === 1;
  if (sweeps) void sweep();
  const sweeper = setInterval(() => {
    if (sweeps) void sweep();
  }, config.storage.sweepIntervalSeconds * 1000);
  sweeper.unref();

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // From here /readyz fails and new requests get 503 + Retry-After, while the port stays open:
    // a load balancer that still sends traffic here gets an answer it retries elsewhere, not a
    // refused connection. Ctrl-C (SIGINT) is a person at a terminal: no balancer to wait for.
    app.beginShutdown();
    const drainMs = signal === 'SIGINT' ? 0 : config.server.drainDelayMs;
    logger.info({ signal, drainMs }, 'shutting down: draining, then finishing in-flight requests');
    clearInterval(sweeper);
    const forced = setTimeout(() => {
      logger.warn('shutdown grace period over; exiting with requests still open');
      process.exit(1);
    }, config.server.shutdownGraceMs);
    forced.unref();
    await new Promise((resolve) => setTimeout(resolve, drainMs));
    await app.close();
    await deps.jobRunner.stop();
    // After the jobs: the deliveries their last results queued stay in the database if unsent.
    await deps.webhookDispatcher.stop();
    // Requests whose clients left may still be releasing their holds: the database waits for them.
    await deps.images.inflight.settled();
    await deps.closeBackends();
    logger.info('stopped');
    // A worker's channel to the supervisor would keep it alive; closing it lets the process end.
    if (cluster.isWorker) cluster.worker?.disconnect();
  };
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));
}

async function createFirstKeys(keys: KeysRepo): Promise<{ firstKey: CreatedKey | null; adminKey: CreatedKey | null }> {
  const firstKey = (await keys.count('user')) === 0 ? await keys.create({ name: 'first key' }) : null;
  const adminKey = (await keys.count('admin')) === 0 ? await keys.create({ name: 'first admin key', role: 'admin' }) : null;
  return { firstKey, adminKey };
}

/**
 * `server.workers` > 1: the supervisor prepares what must happen once (schema, signing secret,
 * first keys), then forks the workers, which share the port (node:cluster hands connections out
 * round-robin). A worker that dies is replaced; SIGTERM is passed on and the supervisor exits when
 * every worker has finished its in-flight requests.
 */
async function supervise(config: Config): Promise<void> {
  const logger = createLogger(config.log.level);
  const deps = await createDeps(config, logger, config.server.port);
  const { firstKey, adminKey } = await createFirstKeys(deps.keys);
  await deps.closeBackends();
  let stopping = false;
  const fork = (): void => {
    cluster.fork().once('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ code, signal }, 'a worker died; starting another');
      fork();
    });
  };
  for (let i = 0; i < config.server.workers; i += 1) fork();
  cluster.once('listening', () => {
    if (firstKey === null && adminKey === null) return;
    const base = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${config.server.port}`;
    process.stdout.write(firstRunBanner(firstKey?.plaintext ?? null, adminKey?.plaintext ?? null, base));
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'stopping workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function firstRunBanner(key: string | null, adminKey: string | null, base: string): string {
  const admin =
    adminKey === null
      ? ''
      : `
An admin key for ${base}/admin/v1 (managing keys, budgets and usage) was created too, also shown once:

  export IMAGEGATE_ADMIN_KEY=${adminKey}
`;
  const user =
    key === null
      ? ''
      : `
imagegate: this is the first start, so an API key was created for you. It is shown only once;
keep it somewhere safe (create more with: npm run imagegate -- keys create).

  export IMAGEGATE_KEY=${key}

Try it:

  curl -X POST ${base}/v1/images/generations -H "Authorization: Bearer $IMAGEGATE_KEY" -H 'Content-Type: application/json' \\
    -d '{"model":"dall-e-3","prompt":"A paper boat floating on calm water at sunrise."}'

or open ${base}/ in a browser and sign in with the key (the web console: playground, gallery, usage).
`;
  return `${user}${admin}\n`;
}
