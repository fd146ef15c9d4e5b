import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { WebhookDeliveryRow } from '../../src/db/schema.ts';
import { createTestDatabase, DIALECTS } from '../support/databases.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { fetchImage } from '../support/images.ts';

/**
 * Webhooks are delivered from a queue of their own, persisted in the database: a receiver that
 * refuses them holds no job slot, failed attempts are retried with backoff until they are used
 * up, a delivery outlives the process that queued it, and a `webhook_url` that could never be
 * delivered is refused when the job is submitted.
 */

interface Hit {
  readonly path: string;
  readonly jobId: string;
  readonly body: string;
  readonly signature: string;
}

/** A webhook receiver on loopback: `/refuse…` answers 500, anything else 204 unless it is `down` (503). */
class Receiver {
  readonly hits: Hit[] = [];
  down = false;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const jobId = (JSON.parse(body) as { id: string }).id;
        this.hits.push({ path: req.url ?? '', jobId, body, signature: String(req.headers['x-imagegate-signature'] ?? '') });
        if (this.down) res.writeHead(503).end();
        else res.writeHead((req.url ?? '').startsWith('/refuse') ? 500 : 204).end();
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  url(pathname: string): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${pathname}`;
  }

  hitsFor(jobId: string): Hit[] {
    return this.hits.filter((hit) => hit.jobId === jobId);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const SECRET = 'a-webhook-secret-shared-with-clients';
const small = { model: 'dall-e-2', prompt: 'a kite', size: '256x256', response_format: 'url' };

function post(gateway: TestGateway, key: string, body: object): Promise<Response> {
  return fetch(`${gateway.baseUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'respond-async' },
    body: JSON.stringify(body),
  });
}

async function submit(gateway: TestGateway, key: string, body: object): Promise<string> {
  const accepted = await post(gateway, key, body);
  assert.equal(accepted.status, 202, await accepted.clone().text());
  return ((await accepted.json()) as { id: string }).id;
}

/** Polls until `check` holds; the bound only keeps a broken run from hanging, it measures nothing. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 1200; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting: ${what}`);
}

async function result(gateway: TestGateway, key: string, jobId: string): Promise<Response> {
  return waitFor(`job ${jobId} finished`, async () => {
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations/${jobId}`, { headers: { authorization: `Bearer ${key}` } });
    return response.status === 202 ? undefined : response;
  });
}

async function deliveryOf(gateway: TestGateway, jobId: string): Promise<WebhookDeliveryRow | undefined> {
  return (await gateway.deps.webhooks.listByJob(jobId))[0];
}

function assertSigned(hit: Hit): void {
  const [t, v1] = hit.signature.split(',').map((part) => part.split('=')[1]);
  assert.equal(v1, createHmac('sha256', SECRET).update(`${t}.${hit.body}`).digest('hex'));
}

for (const dialect of DIALECTS) {
  const mode = dialect === 'postgres' ? 'scaled' : 'embedded';

  describe(`webhook deliveries do not hold job slots (${dialect})`, () => {
    const receiver = new Receiver();
    let gateway: TestGateway;
    const ATTEMPTS = 4;
    before(async () => {
      await receiver.listen();
      // Waits of 1 s, 4 s and 16 s: a refused delivery is still being retried 20 s after its first attempt.
      gateway = await startGateway(
        {
          IMAGEGATE_WEBHOOK_SECRET: SECRET,
          IMAGEGATE_WEBHOOK_ALLOW_PRIVATE: 'true',
          IMAGEGATE_WEBHOOK_FIRST_DELAY_MS: '1000',
          IMAGEGATE_WEBHOOK_ATTEMPTS: String(ATTEMPTS),
        },
        mode,
      );
    });
    after(async () => {
      await gateway.close();
      await receiver.close();
    });

    it('another key’s job finishes while the refused deliveries of 8 jobs are still being retried', async () => {
      // As many refused jobs as two rounds of the default 4 job slots.
      const refused: string[] = [];
      for (let i = 0; i < 8; i += 1)
        refused.push(await submit(gateway, gateway.key, { ...small, prompt: `refused ${i}`, webhook_url: receiver.url('/refuse') }));
      const other = await gateway.deps.keys.create({ name: 'another key' });
      const otherJob = await submit(gateway, other.plaintext, small);

      const done = await result(gateway, other.plaintext, otherJob);
      // Before the fix each refused delivery held a job slot through all its attempts, so this job
      // came only after at least four of them had used up every attempt.
      const hitsThen = refused.map((id) => receiver.hitsFor(id).length);
      assert.equal(done.status, 200);
      const body = (await done.json()) as { data: Array<{ url: string }> };
      assert.equal((await fetchImage(body.data[0]?.url ?? '')).width, 256);
      assert.ok(
        hitsThen.every((hits) => hits < ATTEMPTS),
        `no refused delivery had used up its attempts when the other job finished (attempts seen: ${hitsThen.join(', ')})`,
      );
      for (const id of refused) assert.notEqual((await deliveryOf(gateway, id))?.status, 'failed');

      // And the refused ones are retried from their queue, apart from the jobs (all 8 finished).
      await waitFor('every refused delivery retried', () => (refused.every((id) => receiver.hitsFor(id).length >= 2) ? true : undefined));
      for (const id of refused) {
        const row = await deliveryOf(gateway, id);
        assert.ok(row !== undefined && row.status !== 'failed' && row.attempts < ATTEMPTS, `${id}: ${JSON.stringify(row)}`);
        assert.match(row.last_error ?? '', /500/);
        assert.equal((await result(gateway, gateway.key, id)).status, 200);
      }
    });
  });

  describe(`webhook retries back off and end (${dialect})`, () => {
    const receiver = new Receiver();
    let gateway: TestGateway;
    let log = '';
    before(async () => {
      await receiver.listen();
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          log += chunk.toString();
          done();
        },
      });
      gateway = await startGateway(
        {
          IMAGEGATE_WEBHOOK_SECRET: SECRET,
          IMAGEGATE_WEBHOOK_ALLOW_PRIVATE: 'true',
          IMAGEGATE_WEBHOOK_FIRST_DELAY_MS: '10000',
          IMAGEGATE_WEBHOOK_ATTEMPTS: '3',
          IMAGEGATE_LOG_LEVEL: 'warn',
        },
        mode,
        { logDestination: sink },
      );
    });
    after(async () => {
      gateway.setNow(null);
      await gateway.close();
      await receiver.close();
    });

    it('waits firstDelayMs, then four times as long, and marks the delivery failed (logged) once its attempts are used up', async () => {
      // The gateway's clock is held still and moved by hand: each retry comes when it says, not by waiting.
      const t0 = Date.now();
      gateway.setNow(t0);
      const job = await submit(gateway, gateway.key, { ...small, webhook_url: receiver.url('/refuse-always') });
      const first = await waitFor('the first attempt', async () => {
        const row = await deliveryOf(gateway, job);
        return row?.status === 'pending' && row.attempts === 1 ? row : undefined;
      });
      assert.equal(first.next_attempt_at_ms, t0 + 10_000);
      assert.equal(receiver.hitsFor(job).length, 1);
      assertSigned(receiver.hitsFor(job)[0] ?? assert.fail('no hit'));

      gateway.setNow(t0 + 10_000);
      const second = await waitFor('the second attempt', async () => {
        const row = await deliveryOf(gateway, job);
        return row?.status === 'pending' && row.attempts === 2 ? row : undefined;
      });
      assert.equal(second.next_attempt_at_ms, t0 + 10_000 + 40_000);

      gateway.setNow(t0 + 50_000);
      const last = await waitFor('the delivery given up', async () => {
        const row = await deliveryOf(gateway, job);
        return row?.status === 'failed' ? row : undefined;
      });
      assert.deepEqual([last.attempts, last.delivered_at_ms, receiver.hitsFor(job).length], [3, null, 3]);
      assert.match(last.last_error ?? '', /answered 500/);
      const line = log.split('\n').find((text) => text.includes('webhook not delivered; giving up'));
      assert.ok(line !== undefined, log);
      assert.ok(line.includes(job));
      // The log names the receiver's origin, never its path (which may carry the receiver's token).
      assert.ok(!line.includes('/refuse-always'), line);
      // The job's own result is unaffected.
      assert.equal((await result(gateway, gateway.key, job)).status, 200);
    });
  });

  describe(`a webhook delivery survives a restart (${dialect})`, () => {
    const receiver = new Receiver();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-restart-'));
    let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
    let env: Record<string, string> = {};
    let second: TestGateway | null = null;
    before(async () => {
      await receiver.listen();
      database = dialect === 'postgres' ? await createTestDatabase('postgres') : null;
      env = {
        IMAGEGATE_WEBHOOK_SECRET: SECRET,
        IMAGEGATE_WEBHOOK_ALLOW_PRIVATE: 'true',
        IMAGEGATE_WEBHOOK_FIRST_DELAY_MS: '1000',
        ...(database === null ? {} : { DATABASE_URL: database.url ?? '' }),
      };
    });
    after(async () => {
      await second?.close();
      await receiver.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('a delivery still pending when the gateway stops is delivered by the next one on the same database', async () => {
      receiver.down = true;
      const first = await startGateway(env, 'embedded', { dataDir });
      const job = await submit(first, first.key, { ...small, webhook_url: receiver.url('/hook') });
      assert.equal((await result(first, first.key, job)).status, 200);
      await waitFor('the refused first attempt', async () =>
        (await deliveryOf(first, job))?.status === 'pending' && receiver.hitsFor(job).length > 0 ? true : undefined,
      );
      await first.close();

      receiver.down = false;
      second = await startGateway(env, 'embedded', { dataDir });
      const gateway = second;
      const row = await waitFor('the delivery after the restart', async () => {
        const current = await deliveryOf(gateway, job);
        return current?.status === 'delivered' ? current : undefined;
      });
      assert.ok(row.attempts >= 2 && row.delivered_at_ms !== null, JSON.stringify(row));
      const hit = receiver.hitsFor(job).at(-1) ?? assert.fail('no hit');
      assertSigned(hit);
      const payload = JSON.parse(hit.body) as { id: string; status: string; result: { data: Array<{ url: string }> } };
      assert.deepEqual([payload.id, payload.status], [job, 'succeeded']);
      // The payload's links are made when it is sent: this one is the running gateway's.
      const url = payload.result.data[0]?.url ?? '';
      assert.ok(url.startsWith(gateway.baseUrl), url);
      assert.equal((await fetchImage(url)).width, 256);
    });

    it('a delivery claimed by a process that died is taken again once its lease is over', async () => {
      const gateway = second ?? assert.fail('no gateway');
      await gateway.deps.webhookDispatcher.stop();
      const keyId = (await gateway.deps.keys.list('user'))[0]?.id ?? '';
      const job = await gateway.deps.jobs.create(keyId, JSON.stringify(small), receiver.url('/orphan'), Date.now());
      const payloadJson = JSON.stringify({
        id: job.id,
        object: 'image.generation.job',
        status: 'failed',
        result: { error: { message: 'x', type: 'server_error', param: null, code: 'server_error' } },
      });
      await gateway.deps.webhooks.enqueue({ jobId: job.id, url: receiver.url('/orphan'), payloadJson }, Date.now());
      // A process claims it and dies: its lease is never released.
      const claimed = await gateway.deps.webhooks.claim('dead-process', Date.now(), 200);
      assert.equal(claimed?.job_id, job.id);
      gateway.deps.webhookDispatcher.start();
      const row = await waitFor('the orphaned delivery', async () => {
        const current = await deliveryOf(gateway, job.id);
        return current?.status === 'delivered' ? current : undefined;
      });
      assert.equal(row.attempts, 2);
      assert.equal(receiver.hitsFor(job.id).length, 1);
    });
  });

  describe(`a webhook_url that can never be delivered is refused at submit (${dialect})`, () => {
    let gateway: TestGateway;
    before(async () => {
      gateway = await startGateway({}, mode);
      // Nothing here is to be sent: an accepted public target would only be tried against a network this test has not.
      await gateway.deps.webhookDispatcher.stop();
    });
    after(async () => {
      await gateway.close();
    });

    const notPublic = (url: string) =>
      `Invalid value for 'webhook_url': webhooks are sent to public addresses only, and ${new URL(url).hostname} does not resolve to one.`;
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['ftp://example.com/hook', "Invalid value for 'webhook_url': an http or https URL."],
      ['https://user:secret@example.com/hook', "Invalid value for 'webhook_url': a URL without a user name or password."],
      ['https://:secret@example.com/hook', "Invalid value for 'webhook_url': a URL without a user name or password."],
      ...[
        'http://127.0.0.1:8080/hook',
        'http://10.1.2.3/hook',
        'http://192.168.1.1/hook',
        'http://169.254.169.254/latest/meta-data/',
        'http://2130706433/hook',
        'http://[::1]/hook',
        'http://[::ffff:127.0.0.1]/hook',
        'http://[fe80::1]/hook',
        'http://localhost:3000/hook',
        'http://hooks.localhost/hook',
        'http://localhost./hook',
        // A name that does not resolve reads exactly like one resolving to a private address.
        'http://no-such-receiver.invalid/hook',
      ].map((url) => [url, notPublic(url)] as const),
    ];

    it('answers 400 naming webhook_url, and accepts no job', async () => {
      for (const [url, message] of cases) {
        const response = await post(gateway, gateway.key, { ...small, webhook_url: url });
        assert.equal(response.status, 400, url);
        const body = (await response.json()) as { error: { message: string; type: string; param: string; code: string } };
        assert.deepEqual(body.error, { message, type: 'invalid_request_error', param: 'webhook_url', code: 'invalid_value' }, url);
      }
      const jobs = await gateway.deps.db.selectFrom('jobs').select('id').execute();
      assert.deepEqual(jobs, []);
    });

    it('accepts a public address', async () => {
      const response = await post(gateway, gateway.key, { ...small, webhook_url: 'https://93.184.215.14/hook' });
      assert.equal(response.status, 202);
    });
  });
}
