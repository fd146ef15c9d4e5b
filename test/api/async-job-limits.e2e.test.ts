import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Async jobs obey the key's limits like synchronous requests: requests per minute are counted
 * when the job is accepted (429 at accept), images per minute and concurrency when it runs.
 */
describe('async jobs and per-key limits', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  const post = (key: string, body: object, async = true) =>
    fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(async ? { prefer: 'respond-async' } : {}) },
      body: JSON.stringify(body),
    });
  const finished = async (key: string, location: string): Promise<Response> => {
    for (let i = 0; i < 400; i += 1) {
      const response = await fetch(`${gateway.baseUrl}${location}`, { headers: { authorization: `Bearer ${key}` } });
      if (response.status !== 202) return response;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('the job did not finish');
  };
  const small = { model: 'dall-e-2', prompt: 'a kite', size: '256x256' };

  it('counts requests per minute when the job is accepted: over the limit is a 429 at accept', async () => {
    const { plaintext } = await gateway.deps.keys.create({ requestsPerMinute: 1 });
    const first = await post(plaintext, small);
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '0');
    const second = await post(plaintext, small);
    assert.equal(second.status, 429);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    assert.equal((await finished(plaintext, first.headers.get('location') ?? '')).status, 200);
  });

  it('does not count the request again when the job runs', async () => {
    const { plaintext } = await gateway.deps.keys.create({ requestsPerMinute: 2 });
    const job = await post(plaintext, small);
    assert.equal(job.status, 202);
    assert.equal((await finished(plaintext, job.headers.get('location') ?? '')).status, 200);
    // One of two requests used (by the job's accept): one synchronous request is still allowed.
    assert.equal((await post(plaintext, small, false)).status, 200);
    assert.equal((await post(plaintext, small, false)).status, 429);
  });

  it('counts images per minute when the job runs', async () => {
    const { plaintext } = await gateway.deps.keys.create({ imagesPerMinute: 5 });
    const job = await post(plaintext, { ...small, n: 4 });
    assert.equal(job.status, 202);
    assert.equal((await finished(plaintext, job.headers.get('location') ?? '')).status, 200);
    // The job's 4 images came out of the bucket of 5: two more do not fit.
    const refused = await post(plaintext, { ...small, n: 2 }, false);
    assert.equal(refused.status, 429);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /5 images per minute/);
  });

  it("fails a job whose n can never fit the key's images per minute, instead of waiting forever", async () => {
    const { plaintext } = await gateway.deps.keys.create({ imagesPerMinute: 2 });
    const job = await post(plaintext, { ...small, n: 3 });
    assert.equal(job.status, 202);
    const done = await finished(plaintext, job.headers.get('location') ?? '');
    assert.equal(done.status, 429);
    assert.equal(((await done.json()) as { status: string }).status, 'failed');
  });
});

describe('a budget refusal and the images-per-minute allowance', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  it("a request refused for its budget does not use up the key's images per minute, and says not to retry", async () => {
    const { plaintext } = await gateway.deps.keys.create({ imagesPerMinute: 5, budgetMicroUsd: 1 });
    const post = () =>
      fetch(`${gateway.baseUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${plaintext}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'dall-e-2', prompt: 'a kite', size: '256x256' }),
      });
    for (let i = 0; i < 3; i += 1) {
      const refused = await post();
      assert.equal(refused.status, 429);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'insufficient_quota');
      assert.equal(refused.headers.get('x-should-retry'), 'false');
    }
    // The bucket is still full: the key's 5 images a minute were not spent on refusals.
    const key = (await gateway.deps.keys.list('user')).find((row) => row.images_per_minute === 5);
    assert.ok(key !== undefined);
    const decision = await gateway.deps.limits.rateLimiter.consume(`ipm:${key.id}`, 0, { limit: 5, windowMs: 60_000 });
    assert.equal(Math.floor(decision.remaining), 5);
  });
});
