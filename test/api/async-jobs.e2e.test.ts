import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';

interface Hook {
  readonly body: string;
  readonly signature: string;
}

describe('async generation (Prefer: respond-async) with webhooks', () => {
  let gateway: TestGateway;
  const hooks: Hook[] = [];
  let failFirst = 0;
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (failFirst > 0) {
        failFirst -= 1;
        res.writeHead(500).end();
        return;
      }
      hooks.push({ body, signature: String(req.headers['x-imagegate-signature'] ?? '') });
      res.writeHead(204).end();
    });
  });
  const secret = 'a-webhook-secret-shared-with-clients';

  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    gateway = await startGateway({ IMAGEGATE_WEBHOOK_SECRET: secret, IMAGEGATE_WEBHOOK_ALLOW_PRIVATE: 'true', IMAGEGATE_WEBHOOK_FIRST_DELAY_MS: '50' });
  });
  after(async () => {
    await gateway.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  const post = (body: object, headers: Record<string, string> = { prefer: 'respond-async' }) =>
    fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const poll = async (location: string): Promise<Response> => {
    for (let i = 0; i < 200; i += 1) {
      const response = await fetch(`${gateway.baseUrl}${location}`, { headers: { authorization: `Bearer ${gateway.key}` } });
      if (response.status !== 202) return response;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('job did not finish');
  };

  it('answers 202 with a Location, then the same body a synchronous call gives, and calls the signed webhook', async () => {
    const port = (receiver.address() as AddressInfo).port;
    failFirst = 1; // the first attempt fails and the delivery is retried from its queue
    const accepted = await post({ model: 'dall-e-3', prompt: 'a lighthouse at dusk', webhook_url: `http://127.0.0.1:${port}/hook` });
    assert.equal(accepted.status, 202);
    const job = (await accepted.json()) as { id: string; status: string; object: string };
    assert.match(job.id, /^imgjob_/);
    assert.equal(accepted.headers.get('location'), `/v1/images/generations/${job.id}`);
    const done = await poll(`/v1/images/generations/${job.id}`);
    assert.equal(done.status, 200);
    const body = (await done.json()) as { id: string; status: string; created: number; data: Array<{ url: string; revised_prompt: string }> };
    assert.equal(body.id, job.id);
    assert.equal(body.status, 'succeeded');
    const image = await fetchImage(body.data[0]?.url ?? '');
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
    assert.ok((body.data[0]?.revised_prompt ?? '').length > 0);

    for (let i = 0; i < 100 && hooks.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    const hook = hooks[0];
    assert.ok(hook !== undefined, 'webhook delivered after a retry');
    const [t, v1] = hook.signature.split(',').map((part) => part.split('=')[1]);
    assert.equal(v1, createHmac('sha256', secret).update(`${t}.${hook.body}`).digest('hex'));
    const payload = JSON.parse(hook.body) as { id: string; status: string; result: { data: unknown[] } };
    assert.deepEqual([payload.id, payload.status, payload.result.data.length], [job.id, 'succeeded', 1]);
    // Recorded once the receiver's answer is in, a moment after the receiver saw the body.
    let [delivery] = await gateway.deps.webhooks.listByJob(job.id);
    for (let i = 0; i < 100 && delivery?.status !== 'delivered'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      [delivery] = await gateway.deps.webhooks.listByJob(job.id);
    }
    assert.deepEqual([delivery?.status, delivery?.attempts], ['delivered', 2]);
  });

  it('a failed job reports the OpenAI error, and is charged nothing', async () => {
    const { row, plaintext } = await gateway.deps.keys.create({ budgetMicroUsd: 1000 });
    const accepted = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${plaintext}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'dall-e-3', prompt: 'too expensive' }),
    });
    const job = (await accepted.json()) as { id: string };
    const done = await fetch(`${gateway.baseUrl}/v1/images/generations/${job.id}`, { headers: { authorization: `Bearer ${plaintext}` } }).then(async (r) => {
      for (let i = 0; i < 100 && r.status === 202; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        r = await fetch(`${gateway.baseUrl}/v1/images/generations/${job.id}`, { headers: { authorization: `Bearer ${plaintext}` } });
      }
      return r;
    });
    assert.equal(done.status, 429);
    const body = (await done.json()) as { status: string; error: { code: string } };
    assert.deepEqual([body.status, body.error.code], ['failed', 'insufficient_quota']);
    assert.equal((await gateway.deps.ledger.entries(row.id)).filter((e) => e.kind === 'charge').length, 0);
  });

  it('refuses an invalid request at once, and hides other keys’ jobs', async () => {
    const bad = await post({ model: 'dall-e-3', prompt: 'x', n: 3 });
    assert.equal(bad.status, 400);
    for (const url of ['ftp://nope', 'http://user:password@127.0.0.1/hook']) {
      // Private targets are allowed here; a bad scheme or credentials in the URL never are.
      const badHook = await post({ model: 'dall-e-3', prompt: 'x', webhook_url: url });
      assert.equal(badHook.status, 400);
      assert.equal(((await badHook.json()) as { error: { param: string } }).error.param, 'webhook_url');
    }
    const accepted = (await (await post({ model: 'dall-e-2', prompt: 'x', size: '256x256' })).json()) as { id: string };
    const other = await gateway.deps.keys.create({});
    const peek = await fetch(`${gateway.baseUrl}/v1/images/generations/${accepted.id}`, { headers: { authorization: `Bearer ${other.plaintext}` } });
    assert.equal(peek.status, 404);
    assert.equal((await poll(`/v1/images/generations/${accepted.id}`)).status, 200);
  });

  it('a job whose worker died after charging is answered from its stored images, not charged twice', async () => {
    await gateway.deps.jobRunner.stop();
    const keyId = (await gateway.deps.keys.list('user'))[0]?.id ?? '';
    const body = { model: 'dall-e-2', prompt: 'charged once', size: '256x256', response_format: 'url' };
    const job = await gateway.deps.jobs.create(keyId, JSON.stringify(body), null, Date.now());
    // The first worker runs it to the charge, then dies before writing the result.
    const claimed = await gateway.deps.jobs.claim('dying-worker', Date.now(), 200);
    assert.equal(claimed?.id, job.id);
    const { runImages } = await import('../../src/images/run-images.ts');
    const { validateGeneration } = await import('../../src/contract/generation.ts');
    const { toApiKey } = await import('../../src/keys/api-key.ts');
    const row = (await gateway.deps.keys.get(keyId)) ?? assert.fail('no key');
    await runImages(gateway.deps.images, validateGeneration(body, gateway.deps.contract), {
      apiKey: toApiKey(row),
      requestId: job.id,
      signal: new AbortController().signal,
    });
    gateway.deps.jobRunner.start();
    const done = await poll(`/v1/images/generations/${job.id}`);
    assert.equal(done.status, 200);
    const result = (await done.json()) as { data: Array<{ url: string }> };
    assert.equal((await fetchImage(result.data[0]?.url ?? '')).width, 256);
    const charges = (await gateway.deps.ledger.entries(keyId)).filter((e) => e.kind === 'charge' && e.request_id === job.id);
    assert.equal(charges.length, 1);
  });

  it('a job accepted before a crash is finished after the restart (its claim expires and another worker takes it)', async () => {
    // A worker claims the job and "dies": its lease is never renewed.
    await gateway.deps.jobRunner.stop();
    const job = await gateway.deps.jobs.create(
      (await gateway.deps.keys.list('user'))[0]?.id ?? '',
      JSON.stringify({ model: 'dall-e-2', prompt: 'survivor', size: '256x256', response_format: 'b64_json' }),
      null,
      Date.now(),
    );
    const claimed = await gateway.deps.jobs.claim('dead-worker', Date.now(), 200);
    assert.equal(claimed?.id, job.id);
    gateway.deps.jobRunner.start();
    const done = await poll(`/v1/images/generations/${job.id}`);
    assert.equal(done.status, 200);
    const body = (await done.json()) as { data: Array<{ b64_json: string }> };
    assert.equal((await decode(Buffer.from(body.data[0]?.b64_json ?? '', 'base64'))).width, 256);
    const finished = await gateway.deps.jobs.getOwned(job.api_key_id, job.id);
    assert.equal(finished?.attempts, 2);
  });
});
