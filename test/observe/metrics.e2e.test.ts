import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { parseExposition, type Sample, valueOf } from '../support/prometheus.ts';

const METRICS_TOKEN = 'prometheus-scrape-token-0001';
const PROMPT = 'a zebra crossing painted by a secretive prompt 7781';

async function scrape(gateway: TestGateway, authorization: string | null = `Bearer ${METRICS_TOKEN}`): Promise<Sample[]> {
  const response = await fetch(`${gateway.baseUrl}/metrics`, { headers: authorization === null ? {} : { authorization } });
  assert.equal(response.status, 200, await response.clone().text());
  return parseExposition(await response.text());
}

async function generate(gateway: TestGateway, key: string, body: Record<string, unknown>): Promise<Response> {
  const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response;
}

describe('GET /metrics', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ IMAGEGATE_METRICS_TOKEN: METRICS_TOKEN });
  });
  after(async () => {
    await gateway.close();
  });

  it('needs the admin key or the metrics token, and answers in the Prometheus text format', async () => {
    const admin = await gateway.deps.keys.create({ name: 'ops', role: 'admin' });
    const cases: Array<[string | null, number]> = [
      [null, 401],
      [`Bearer ${gateway.key}`, 401],
      ['Bearer not-the-token-at-all-0000', 401],
      [`Bearer ${admin.plaintext}`, 200],
      [`Bearer ${METRICS_TOKEN}`, 200],
    ];
    for (const [authorization, status] of cases) {
      const response = await fetch(`${gateway.baseUrl}/metrics`, { headers: authorization === null ? {} : { authorization } });
      assert.equal(response.status, status, `${authorization ?? 'no header'}: ${await response.clone().text()}`);
      if (status === 200) {
        assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
        const text = await response.text();
        for (const name of ['imagegate_requests_total', 'imagegate_inflight_requests', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
          assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
        }
      } else {
        const body = (await response.json()) as { error: { code: string } };
        assert.equal(body.error.code, 'invalid_api_key');
      }
    }
  });

  it('counts a generation at each boundary: the request, the images, their bytes and cost, the upstream call', async () => {
    const beforeSamples = await scrape(gateway);
    const response = await generate(gateway, gateway.key, { model: 'gpt-image-1', prompt: PROMPT, n: 2, quality: 'low' });
    assert.equal(response.status, 200);
    const samples = await scrape(gateway);
    const delta = (name: string, labels: Record<string, string>): number => valueOf(samples, name, labels) - valueOf(beforeSamples, name, labels);
    const images = { model: 'gpt-image-1', provider: 'local', channel: 'local' };
    assert.equal(delta('imagegate_requests_total', { method: 'POST', route: '/v1/images/generations', status: '200' }), 1);
    assert.equal(delta('imagegate_request_duration_seconds_count', { route: '/v1/images/generations', model: 'gpt-image-1' }), 1);
    assert.equal(delta('imagegate_images_total', images), 2);
    assert.ok(delta('imagegate_image_bytes_total', images) > 10_000);
    assert.equal(
      Math.round(delta('imagegate_cost_usd_total', { model: 'gpt-image-1' }) * 1e6),
      Math.round(Number(response.headers.get('x-imagegate-cost-usd')) * 1e6),
    );
    assert.equal(delta('imagegate_upstream_attempts_total', { channel: 'local', outcome: 'ok' }), 1);
    assert.equal(delta('imagegate_upstream_duration_seconds_count', { channel: 'local' }), 1);
    assert.equal(valueOf(samples, 'imagegate_breaker_open', { channel: 'local' }), 0);
    // The scrape itself is the one request in flight.
    assert.equal(valueOf(samples, 'imagegate_inflight_requests'), 1);
  });

  it('counts refusals by model and reason: budget, rate limit, model policy', async () => {
    const beforeSamples = await scrape(gateway);
    const broke = await gateway.deps.keys.create({ name: 'broke', budgetMicroUsd: 0 });
    const limited = await gateway.deps.keys.create({ name: 'limited', requestsPerMinute: 1 });
    const narrow = await gateway.deps.keys.create({ name: 'narrow', allowedModels: ['dall-e-2'] });
    const body = { model: 'dall-e-3', prompt: PROMPT };
    assert.equal((await generate(gateway, broke.plaintext, body)).status, 429);
    assert.equal((await generate(gateway, limited.plaintext, body)).status, 200);
    assert.equal((await generate(gateway, limited.plaintext, body)).status, 429);
    assert.equal((await generate(gateway, narrow.plaintext, body)).status, 403);
    const samples = await scrape(gateway);
    const delta = (reason: string): number =>
      valueOf(samples, 'imagegate_refusals_total', { model: 'dall-e-3', reason }) -
      valueOf(beforeSamples, 'imagegate_refusals_total', { model: 'dall-e-3', reason });
    assert.deepEqual([delta('budget'), delta('rate_limit'), delta('model_not_allowed')], [1, 1, 1]);
    assert.equal(valueOf(samples, 'imagegate_requests_total', { route: '/v1/images/generations', status: '429' }), 2);
  });

  it('puts no key, token or prompt in any label, and routes by their pattern only', async () => {
    await fetch(`${gateway.baseUrl}/v1/images/img_${'a'.repeat(32)}?secret=1`, { headers: { authorization: `Bearer ${gateway.key}` } });
    await fetch(`${gateway.baseUrl}/no/such/path/${PROMPT.replaceAll(' ', '-')}`);
    const text = await (await fetch(`${gateway.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    for (const secret of [gateway.key, METRICS_TOKEN, 'zebra', 'secret=1', 'img_aaaa']) assert.ok(!text.includes(secret), `${secret} in the metrics`);
    const samples = parseExposition(text);
    assert.equal(valueOf(samples, 'imagegate_requests_total', { route: '/v1/images/:id', status: '404' }), 1);
    assert.equal(valueOf(samples, 'imagegate_requests_total', { route: 'unmatched', status: '404' }), 1);
  });
});

describe('GET /metrics with metrics.public', () => {
  it('answers without a token', async () => {
    const gateway = await startGateway({ IMAGEGATE_METRICS_PUBLIC: 'true' });
    try {
      const samples = await scrape(gateway, null);
      assert.equal(valueOf(samples, 'imagegate_inflight_requests'), 1);
    } finally {
      await gateway.close();
    }
  });
});

describe('metrics of an upstream channel', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  let configDir: string;
  before(async () => {
    upstream = await startOpenAIFake();
    configDir = mkdtempSync(path.join(tmpdir(), 'imagegate-metrics-'));
    const config = path.join(configDir, 'imagegate.yaml');
    // Two failures in a row open the breaker, for long enough that the test sees it open.
    writeFileSync(config, 'routing:\n  backoffBaseMs: 1\n  backoffMaxMs: 5\n  breaker:\n    consecutiveFailures: 2\n    cooldownMs: 600000\n');
    const channels = [
      {
        id: 'fake-openai',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1': 'gpt-image-1' },
        local: true,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CONFIG: config, IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_METRICS_TOKEN: METRICS_TOKEN });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
    rmSync(configDir, { recursive: true, force: true });
  });
  const body = { model: 'gpt-image-1', prompt: 'a lighthouse', quality: 'low' };
  const channel = 'fake-openai';

  it('counts each attempt by outcome, a retried failure included', async () => {
    const beforeSamples = await scrape(gateway);
    assert.equal(valueOf(beforeSamples, 'imagegate_breaker_open', { channel }), 0, 'every channel is listed, closed, from the start');
    upstream.queue({ kind: 'status', status: 500 });
    assert.equal((await generate(gateway, gateway.key, body)).status, 200);
    const samples = await scrape(gateway);
    assert.equal(valueOf(samples, 'imagegate_upstream_attempts_total', { channel, outcome: 'upstream_error' }), 1);
    assert.equal(valueOf(samples, 'imagegate_upstream_attempts_total', { channel, outcome: 'ok' }), 1);
    assert.equal(valueOf(samples, 'imagegate_upstream_duration_seconds_count', { channel }), 2);
    assert.equal(valueOf(samples, 'imagegate_images_total', { model: 'gpt-image-1', provider: 'openai', channel }), 1);
  });

  it('counts a moderation refusal as a content-policy refusal, and money anomalies from the ledger’s counter', async () => {
    upstream.queue({ kind: 'moderation' });
    assert.equal((await generate(gateway, gateway.key, body)).status, 400);
    upstream.queue({
      kind: 'usage',
      usage: { input_tokens: -1, input_tokens_details: { text_tokens: -1, image_tokens: 0 }, output_tokens: -5, total_tokens: -6 },
    });
    assert.equal((await generate(gateway, gateway.key, body)).status, 200);
    const samples = await scrape(gateway);
    assert.equal(valueOf(samples, 'imagegate_refusals_total', { model: 'gpt-image-1', reason: 'content_policy' }), 1);
    assert.equal(valueOf(samples, 'imagegate_upstream_attempts_total', { channel, outcome: 'content_policy_violation' }), 1);
    // One per field that was not a count (four here), as the ledger's counter has them.
    const counted = gateway.deps.anomalies.counts().find((count) => count.kind === 'usage_not_a_count' && count.channel === channel)?.count ?? 0;
    assert.ok(counted >= 1);
    assert.equal(valueOf(samples, 'imagegate_money_anomalies_total', { kind: 'usage_not_a_count', model: 'gpt-image-1', channel }), counted);
  });

  it('shows a breaker that opened', async () => {
    upstream.queue({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    assert.equal((await generate(gateway, gateway.key, body)).status, 502);
    const samples = await scrape(gateway);
    assert.equal(valueOf(samples, 'imagegate_breaker_open', { channel }), 1);
  });
});
