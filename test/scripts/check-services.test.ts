import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/check-services.mjs');

async function runCheck(env: Record<string, string>): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [SCRIPT], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr, elapsedMs: Date.now() - started };
}

/** The services the suite uses, as test/support finds them. */
const PG = process.env['IMAGEGATE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/** `npm test`'s preflight: a missing service fails in seconds, naming it and how to start it. */
describe('scripts/check-services.mjs', () => {
  // A port that accepts connections and never answers, like a wedged service.
  let silent: Server;
  let silentPort = 0;
  const held: Socket[] = [];
  before(async () => {
    silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    silentPort = typeof address === 'object' && address !== null ? address.port : 0;
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('passes when both services answer', async () => {
    const result = await runCheck({ IMAGEGATE_TEST_PG: PG, IMAGEGATE_TEST_REDIS: REDIS });
    assert.equal(result.code, 0, result.stderr);
  });

  it('fails at once without PostgreSQL, saying so and how to start it, password hidden', async () => {
    const result = await runCheck({ IMAGEGATE_TEST_PG: 'postgres://postgres:hunter2@127.0.0.1:1/postgres', IMAGEGATE_TEST_REDIS: REDIS });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /PostgreSQL is not reachable at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres \(connect ECONNREFUSED/);
    assert.match(result.stderr, /docker run .*postgres/);
    assert.match(result.stderr, /IMAGEGATE_TEST_PG/);
    assert.doesNotMatch(result.stderr, /hunter2|Redis is not/);
    assert.ok(result.elapsedMs < 8000, `${result.elapsedMs} ms`);
  });

  it('fails at once without Redis, saying so and how to start it', async () => {
    const result = await runCheck({ IMAGEGATE_TEST_PG: PG, IMAGEGATE_TEST_REDIS: 'redis://127.0.0.1:1' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Redis is not reachable at redis:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED/);
    assert.match(result.stderr, /IMAGEGATE_TEST_REDIS/);
    assert.ok(result.elapsedMs < 8000, `${result.elapsedMs} ms`);
  });

  it('fails within seconds when a service accepts connections but never answers', async () => {
    const result = await runCheck({
      IMAGEGATE_TEST_PG: `postgres://postgres@127.0.0.1:${silentPort}/postgres`,
      IMAGEGATE_TEST_REDIS: `redis://127.0.0.1:${silentPort}`,
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /PostgreSQL is not reachable/);
    assert.match(result.stderr, /Redis is not reachable/);
    // The preflight's own timeout is 3 s; the rest is a loaded machine starting Node.
    assert.ok(result.elapsedMs < 12_000, `${result.elapsedMs} ms`);
  });
});
