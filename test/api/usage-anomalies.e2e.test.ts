import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { computeUsage, type ImageUsage } from '../../src/catalog/index.ts';
import { runImages, streamImages } from '../../src/images/run-images.ts';
import { toApiKey } from '../../src/keys/api-key.ts';
import { registerProvider } from '../../src/providers/register.ts';
import { z } from 'zod';
import { createLogger } from '../../src/log.ts';
import { deliveredCostMicroUsd, maxCostMicroUsd } from '../../src/ledger/pricing.ts';
import type { Channel, ProviderResult } from '../../src/providers/types.ts';
import { Router, type RoutingSettings } from '../../src/routing/router.ts';
import { fakeImage } from '../fakes/fake-images.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { requestFor } from '../support/requests.ts';
import { BodyReads } from '../../src/http/body-reads.ts';

const PROMPT = 'a lighthouse';
/** What gpt-image-1 low 1024x1024 costs by the catalog: ceil(4 chars/token) text tokens at $5/M, 272 output at $40/M. */
const ESTIMATE_MICRO_USD = 3 * 5 + 272 * 40;

/**
 * A channel that reports impossible usage (negative or huge token counts) must not decide what a
 * key pays: the report is replaced by the catalog's estimate, counted and logged, and the ledger
 * never charges below 0 or above the hold, streamed, fanned out or not.
 */
describe('upstream usage outside sane bounds', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  let log = '';
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      { id: 'liar', provider: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-upstream-test', models: { 'gpt-image-1': 'gpt-image-1' }, local: true },
    ];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_LOG_LEVEL: 'warn' }, 'embedded', { logDestination: sink });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.reset();
    log = '';
  });

  /** A fresh key with a $1 budget, and what it was charged after `run`. */
  async function chargedFor(run: (apiKey: string) => Promise<void>): Promise<{ committedMicroUsd: number; charges: number[] }> {
    const { row, plaintext } = await gateway.deps.keys.create({ budgetMicroUsd: 1_000_000 });
    await run(plaintext);
    const entries = await gateway.deps.ledger.entries(row.id);
    return {
      committedMicroUsd: (await gateway.deps.keys.get(row.id))?.committed_micro_usd ?? -1,
      charges: entries.filter((e) => e.kind === 'charge').map((e) => e.amount_micro_usd),
    };
  }

  function anomalies(kind: string): number {
    return gateway.deps.anomalies
      .counts()
      .filter((c) => c.kind === kind && c.model === 'gpt-image-1' && c.channel === 'liar')
      .reduce((sum, c) => sum + c.count, 0);
  }

  function logged(kind: string): Array<Record<string, unknown>> {
    return log
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map((line): Record<string, unknown> => JSON.parse(line))
      .filter((line) => line['anomaly'] === kind);
  }

  it('negative token counts (the -$45,000 report) are charged the estimate, counted and logged', async () => {
    const before = anomalies('usage_not_a_count');
    upstream.queue({
      kind: 'usage',
      usage: {
        input_tokens: -1_125_000_000,
        input_tokens_details: { text_tokens: -1_125_000_000, image_tokens: 0 },
        output_tokens: -1_000_000_000,
        total_tokens: -2_125_000_000,
      },
    });
    let body: { usage?: ImageUsage } = {};
    let costHeader = '';
    const charged = await chargedFor(async (apiKey) => {
      const { data, response } = await gateway.client({ apiKey }).images.generate({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low' }).withResponse();
      body = data;
      costHeader = response.headers.get('x-imagegate-cost-usd') ?? '';
    });
    assert.deepEqual(charged, { committedMicroUsd: ESTIMATE_MICRO_USD, charges: [ESTIMATE_MICRO_USD] });
    assert.equal(Number(costHeader), ESTIMATE_MICRO_USD / 1_000_000);
    assert.equal(body.usage?.output_tokens, 272, 'the response reports the usage that was charged');
    assert.ok(anomalies('usage_not_a_count') > before);
    const line = logged('usage_not_a_count')[0];
    assert.ok(line !== undefined, log);
    assert.deepEqual([line['level'], line['channel'], line['model']], [40, 'liar', 'gpt-image-1']);
  });

  it('a billion output tokens against a $1 budget (the $40,000 report) are charged the estimate', async () => {
    const before = anomalies('usage_output_tokens');
    upstream.queue({
      kind: 'usage',
      usage: { input_tokens: 3, input_tokens_details: { text_tokens: 3, image_tokens: 0 }, output_tokens: 1_000_000_000, total_tokens: 1_000_000_003 },
    });
    const charged = await chargedFor(async (apiKey) => {
      await gateway.client({ apiKey }).images.generate({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low' });
    });
    assert.deepEqual(charged, { committedMicroUsd: ESTIMATE_MICRO_USD, charges: [ESTIMATE_MICRO_USD] });
    assert.equal(anomalies('usage_output_tokens'), before + 1);
    assert.deepEqual(
      logged('usage_output_tokens').map((l) => [l['reported'], l['bound']]),
      [[1_000_000_000, 2 * 272]],
    );
  });

  it('a sane report is charged as reported, with no anomaly', async () => {
    const counted = gateway.deps.anomalies.counts().reduce((sum, c) => sum + c.count, 0);
    const charged = await chargedFor(async (apiKey) => {
      // The fake reports 11 text tokens and 100 output tokens per image.
      await gateway.client({ apiKey }).images.generate({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low' });
    });
    assert.deepEqual(charged.charges, [11 * 5 + 100 * 40]);
    assert.equal(
      gateway.deps.anomalies.counts().reduce((sum, c) => sum + c.count, 0),
      counted,
    );
  });

  it('streamed: huge usage in the completed event is charged the estimate, and the event reports it', async () => {
    const before = anomalies('usage_output_tokens');
    upstream.queue({
      kind: 'usage',
      usage: { input_tokens: 3, input_tokens_details: { text_tokens: 3, image_tokens: 0 }, output_tokens: 9_000_000_000, total_tokens: 9_000_000_003 },
    });
    const completed: Array<{ type: string; usage?: ImageUsage }> = [];
    const charged = await chargedFor(async (apiKey) => {
      const stream = await gateway
        .client({ apiKey })
        .images.generate({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low', stream: true, partial_images: 1 });
      for await (const event of stream) if (event.type === 'image_generation.completed') completed.push(event);
    });
    assert.deepEqual(charged, { committedMicroUsd: ESTIMATE_MICRO_USD, charges: [ESTIMATE_MICRO_USD] });
    assert.equal(completed[0]?.usage?.output_tokens, 272);
    assert.equal(anomalies('usage_output_tokens'), before + 1);
  });

  describe('fanned out over several upstream calls', () => {
    /** A channel that takes one image per call and reports `perCall` usage for each call. */
    function fanOutRouter(perCall: ImageUsage): { router: Router; calls: () => number } {
      let calls = 0;
      const bound = registerProvider({
        id: 'one-per-call',
        optionsSchema: z.strictObject({}),
        serves: () => true,
        maxImagesPerCall: () => 1,
        async generate(request): Promise<ProviderResult> {
          calls += 1;
          return { images: [{ bytes: await fakeImage(request.size.width, request.size.height, 'png', calls) }], usage: perCall };
        },
      }).bind({});
      if (!bound.ok) throw new Error('options');
      const channel: Channel = {
        id: 'liar',
        provider: 'one-per-call',
        baseUrl: 'http://unused',
        apiKey: null,
        secrets: [],
        models: { 'gpt-image-1': 'gpt-image-1' },
        timeoutMs: 10_000,
        http: { dispatcher: undefined as never, download: async () => Buffer.alloc(0), acquireBodyRead: (signal) => new BodyReads(8).acquire(signal) },
      };
      const settings: RoutingSettings = {
        fallbackToLocal: false,
        deadlineMs: 10_000,
        maxAttempts: 1,
        backoffBaseMs: 1,
        backoffMaxMs: 1,
        maxRetryAfterMs: 0,
        breaker: { consecutiveFailures: 5, failureRate: 0.5, minSamples: 20, windowMs: 60_000, cooldownMs: 1000 },
      };
      const routed = { channel, provider: bound.provider, priority: 0, weight: 1, maxConcurrency: 4 };
      return { router: new Router({ channels: [routed], local: null, settings, logger: createLogger('silent') }), calls: () => calls };
    }

    const request = requestFor({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low', n: 3 });

    it('absurd usage summed over the parts is replaced by the estimate for all the images', async () => {
      const { router, calls } = fanOutRouter({
        input_tokens: 3,
        input_tokens_details: { text_tokens: 3, image_tokens: 0 },
        output_tokens: 500_000_000,
        total_tokens: 500_000_003,
      });
      const { row } = await gateway.deps.keys.create({ budgetMicroUsd: 1_000_000 });
      const outcome = await runImages({ ...gateway.deps.images, router }, request, {
        apiKey: toApiKey(row),
        requestId: 'req_fan_1',
        signal: new AbortController().signal,
      });
      assert.equal(calls(), 3);
      const estimate = computeUsage(request.model, 'low', request.size, 3, PROMPT);
      assert.deepEqual(outcome.usage, estimate);
      assert.equal(outcome.costMicroUsd, deliveredCostMicroUsd(request, request.size, 3, estimate));
      assert.equal((await gateway.deps.keys.get(row.id))?.committed_micro_usd, outcome.costMicroUsd);
    });

    it('usage that is sane per call but sums above the hold is charged the hold, never more', async () => {
      // Each call bills the whole prompt, at the most text the guard accepts for one call.
      const maxText = Buffer.byteLength(PROMPT) + 16;
      const { router } = fanOutRouter({
        input_tokens: maxText,
        input_tokens_details: { text_tokens: maxText, image_tokens: 0 },
        output_tokens: 272,
        total_tokens: maxText + 272,
      });
      const before = gateway.deps.anomalies
        .counts()
        .filter((c) => c.kind === 'charge_above_hold')
        .reduce((sum, c) => sum + c.count, 0);
      const { row } = await gateway.deps.keys.create({ budgetMicroUsd: 1_000_000 });
      const outcome = await runImages({ ...gateway.deps.images, router }, request, {
        apiKey: toApiKey(row),
        requestId: 'req_fan_2',
        signal: new AbortController().signal,
      });
      const holdMicroUsd = maxCostMicroUsd(request);
      assert.ok(outcome.costMicroUsd > holdMicroUsd, 'the parts together cost more than was held');
      const charges = (await gateway.deps.ledger.entries(row.id)).filter((e) => e.kind === 'charge').map((e) => e.amount_micro_usd);
      assert.deepEqual(charges, [holdMicroUsd]);
      assert.equal((await gateway.deps.keys.get(row.id))?.committed_micro_usd, holdMicroUsd);
      const after = gateway.deps.anomalies
        .counts()
        .filter((c) => c.kind === 'charge_above_hold')
        .reduce((sum, c) => sum + c.count, 0);
      assert.equal(after, before + 1);
    });

    it('streamed: parts that sum above the hold are charged the hold, for the images delivered', async () => {
      const maxText = Buffer.byteLength(PROMPT) + 16;
      const { router } = fanOutRouter({
        input_tokens: maxText,
        input_tokens_details: { text_tokens: maxText, image_tokens: 0 },
        output_tokens: 272,
        total_tokens: maxText + 272,
      });
      const streamed = requestFor({ model: 'gpt-image-1', prompt: PROMPT, quality: 'low', n: 3, stream: true });
      const { row } = await gateway.deps.keys.create({ budgetMicroUsd: 1_000_000 });
      await streamImages(
        { ...gateway.deps.images, router },
        streamed,
        { apiKey: toApiKey(row), requestId: 'req_stream_clamp', signal: new AbortController().signal },
        () => ({
          partial: () => undefined,
          completed: async () => true,
        }),
      );
      const holdMicroUsd = maxCostMicroUsd(streamed);
      const charges = (await gateway.deps.ledger.entries(row.id)).filter((e) => e.kind === 'charge').map((e) => [e.amount_micro_usd, e.image_count]);
      assert.deepEqual(charges, [[holdMicroUsd, 3]]);
      assert.equal((await gateway.deps.keys.get(row.id))?.committed_micro_usd, holdMicroUsd);
    });
  });
});
