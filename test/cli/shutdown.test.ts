import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { freePort } from '../support/free-port.ts';
import { assertEnvelope, openSocket, readUntilClose } from '../support/raw-http.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DRAIN_MS = 3000;
const GRACE_MS = 20_000;

/** GET over a keep-alive agent: tells whether the request reused a connection. */
function get(
  agent: Agent,
  port: number,
  urlPath: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * SIGTERM on a real `imagegate serve` process: readiness fails at once, every new request (on a
 * new or a kept-alive connection) gets a 503 envelope with Retry-After while the server drains,
 * the request in flight finishes, a body that never finishes is cut instead of holding the
 * process, and the process exits 0 well inside its grace period.
 */
describe('SIGTERM drains, then stops', () => {
  let fake: FakeServer;
  const dirs: string[] = [];
  before(async () => {
    fake = await startOpenAIFake();
  });
  after(async () => {
    await fake.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('503 + Retry-After for new requests during the drain delay, in-flight ones finish, exit 0', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-shutdown-'));
    dirs.push(dataDir);
    const port = await freePort();
    const channels = [{ id: 'fake', provider: 'openai', baseUrl: fake.url, apiKey: 'sk-upstream-test', models: { 'gpt-image-1': 'gpt-image-1' }, local: true }];
    const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'src/main.ts'), 'serve'], {
      cwd: dataDir,
      env: {
        PATH: process.env['PATH'] ?? '',
        IMAGEGATE_DATA_DIR: dataDir,
        IMAGEGATE_PORT: String(port),
        IMAGEGATE_LOG_LEVEL: 'warn',
        IMAGEGATE_DRAIN_DELAY_MS: String(DRAIN_MS),
        IMAGEGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
        IMAGEGATE_CHANNELS: JSON.stringify(channels),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 200 && !/IMAGEGATE_KEY=/.test(stdout); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
      const key = /IMAGEGATE_KEY=(sk-ig-[A-Za-z0-9_-]+)/.exec(stdout)?.[1];
      assert.ok(key !== undefined, `no key printed: ${stdout}${stderr}`);
      const ready = await get(agent, port, '/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.body), { status: 'ok' });

      // In flight across the whole drain: the upstream takes longer than the drain delay.
      fake.reset();
      fake.queue({ kind: 'delay', ms: DRAIN_MS + 1000 });
      const inFlight = fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024' }),
      });
      for (let i = 0; i < 100 && fake.received.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(fake.received.length, 1);
      // A client that sends half a body and then nothing.
      const stalled = await openSocket(port);
      stalled.write(
        `POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":`,
      );
      const stalledAnswer = readUntilClose(stalled, GRACE_MS);
      await new Promise((resolve) => setTimeout(resolve, 100));

      const signalledAt = Date.now();
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));

      // Readiness fails at once, on a new connection…
      const readyz = await fetch(`${base}/readyz`);
      assert.equal(readyz.status, 503);
      assert.equal(readyz.headers.get('retry-after'), '1');
      assert.equal(assertEnvelope(await readyz.text()).error.code, 'service_unavailable');
      // …a kept-alive connection is answered too, and told to close…
      const kept = await get(agent, port, '/v1/models');
      assert.equal(kept.reused, true);
      assert.equal(kept.status, 503);
      assert.equal(kept.headers['connection'], 'close');
      assert.equal(kept.headers['retry-after'], '1');
      assert.equal(kept.headers['x-should-retry'], 'true');
      assert.equal(assertEnvelope(kept.body).error.type, 'service_unavailable_error');
      // …and so is new work.
      const refused = await fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x' }),
      });
      assert.equal(refused.status, 503);
      assertEnvelope(await refused.text());
      assert.ok(Date.now() - signalledAt < DRAIN_MS, 'still within the drain delay');

      const finished = await inFlight;
      assert.equal(finished.status, 200);
      assert.equal(((await finished.json()) as { data: unknown[] }).data.length, 1);

      const cut = await stalledAnswer;
      assert.equal(cut.status, 503, JSON.stringify(cut));
      assert.equal(assertEnvelope(cut.body).error.code, 'service_unavailable');

      const code = await exited;
      const tookMs = Date.now() - signalledAt;
      assert.equal(code, 0, stderr);
      assert.ok(tookMs >= DRAIN_MS, `exited after ${tookMs} ms, before the drain delay`);
      assert.ok(tookMs < DRAIN_MS + 6000, `exited after ${tookMs} ms; the stalled body held it`);
    } finally {
      agent.destroy();
      child.kill('SIGKILL');
    }
  });
});
