import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { buildApp, type App, type Deps } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';

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
export async function startGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-test-'));
  const config = loadConfig({ IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_LOG_LEVEL: 'silent', ...env }, dataDir);
  const logger = createLogger(config.log.level);
  const port = await freePort();
  let fakeNowMs: number | null = null;
  const deps = { ...(await createDeps(config, logger, port)), now: () => fakeNowMs ?? Date.now() };
  const app = buildApp(deps);
  await app.fastify.listen({ host: '127.0.0.1', port });
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
      await deps.closeBackends();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A port the OS has just handed out on loopback (the gateway's links need it before listening). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address !== null && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
