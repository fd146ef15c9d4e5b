import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import { GatewayError } from '../../src/errors.ts';
import { upstreamSize } from '../../src/providers/dashscope/sizes.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { startDashScopeFake, type DashScopeFake, type TaskOutcome } from '../fakes/dashscope-fake.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Polls come fast in tests; the 20-per-second spacing (pollMinIntervalMs) keeps its default. */
const FAST_POLLS = { pollInitialMs: '5', pollMaxMs: '20' };

describe('dashscope provider against a fake DashScope', () => {
  let fake: DashScopeFake;
  const channels: Array<ReturnType<typeof channelFor>> = [];
  const channel = (id: string, upstreamModel: string, options: Record<string, unknown> = FAST_POLLS) => {
    const built = channelFor({ id, provider: 'dashscope', baseUrl: fake.url, models: { 'qwen-image': upstreamModel }, options });
    channels.push(built);
    return built.routed;
  };
  /** The call the router would make on that channel. */
  const gen = (request: GenerationRequest, routed: RoutedChannel, signal?: AbortSignal): Promise<ProviderResult> =>
    routed.provider.generate(request, callFor(routed, request, signal));
  before(async () => {
    fake = await startDashScopeFake({ pollsUntilDone: 3 });
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 3;
  });

  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> =>
    gen(requestFor({ model: 'qwen-image', prompt: 'a red kite over the sea', ...body }), channel('ds-async', 'qwen-image-plus'), signal);

  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable);
      check?.(err);
      return true;
    });
  };

  describe('async task API (qwen-image-plus)', () => {
    it('creates a task with the qwen size, polls it to the end, and downloads the PNG', async () => {
      const result = await generate({ size: '1024x1024', seed: 42 });
      const [submit, ...rest] = fake.server.received;
      assert.equal(submit?.method, 'POST');
      assert.equal(submit?.path, '/api/v1/services/aigc/text2image/image-synthesis');
      assert.equal(submit?.headers['x-dashscope-async'], 'enable');
      assert.equal(submit?.headers['authorization'], 'Bearer sk-upstream-test');
      assert.deepEqual(submit?.json, {
        model: 'qwen-image-plus',
        input: { prompt: 'a red kite over the sea' },
        parameters: { size: '1328*1328', n: 1, prompt_extend: true, watermark: false, seed: 42 },
      });
      const polls = rest.filter((r) => r.path.startsWith('/api/v1/tasks/'));
      assert.equal(polls.length, 3, 'PENDING, RUNNING, SUCCEEDED');
      assert.ok(polls.every((p) => p.method === 'GET' && p.headers['x-dashscope-async'] === undefined));
      assert.equal(rest.filter((r) => r.path.startsWith('/results/')).length, 1);

      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1328, 1328]);
      assert.equal(result.images[0]?.revisedPrompt, 'a red kite over the sea, highly detailed, soft light');
      // 1328x1328 is what the catalog resolved; nothing differs to report.
      assert.equal(result.deliveredSize, undefined);
    });

    it('sends no seed when none was asked, and prompt_extend as the channel says', async () => {
      await gen(
        requestFor({ model: 'qwen-image', prompt: 'a kite', size: '1792x1024' }),
        channel('ds-no-extend', 'qwen-image', { ...FAST_POLLS, promptExtend: 'false' }),
      );
      const parameters = (fake.server.received[0]?.json as { parameters: Record<string, unknown> }).parameters;
      assert.deepEqual(parameters, { size: '1664*928', n: 1, prompt_extend: false, watermark: false });
    });

    it('never polls one channel more than 20 times in any second, however many tasks run', async () => {
      fake.pollsUntilDone = 5;
      const busy = channel('ds-busy', 'qwen-image-plus', { pollInitialMs: '1', pollMaxMs: '1' });
      const runs = Array.from({ length: 6 }, (_, i) => gen(requestFor({ model: 'qwen-image', prompt: `kite ${i}`, size: '928x1664' }), busy));
      const results = await Promise.all(runs);
      assert.equal(results.length, 6);
      const times = fake.pollTimesMs;
      assert.equal(times.length, 30);
      for (let i = 0; i + 20 < times.length; i += 1) {
        const spanMs = (times[i + 20] ?? 0) - (times[i] ?? 0);
        assert.ok(spanMs >= 1000, `21 polls within ${spanMs.toFixed(1)} ms`);
      }
    });

    const failsWith = (outcome: TaskOutcome, code: string, retryable: boolean) => async () => {
      fake.queueTasks(outcome);
      await expectError(generate(), code, retryable);
    };
    it('maps a task FAILED with DataInspectionFailed to content_policy_violation', failsWith('inspection_failed', 'content_policy_violation', false));
    it('maps a task FAILED with InternalError to a retryable upstream error', failsWith('internal_error', 'upstream_error', true));
    it('maps a CANCELED task to an upstream error the router does not resubmit', failsWith('canceled', 'upstream_error', false));
    it('maps an UNKNOWN (expired or lost) task to a retryable upstream error', failsWith('unknown', 'upstream_error', true));
    it('maps a result refused by output moderation to content_policy_violation', failsWith('result_inspection_failed', 'content_policy_violation', false));

    it('fails with a retryable upstream error when the result URL has expired (403)', async () => {
      fake.queueTasks('expired_results');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /403/));
    });

    const submitFails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate(), code, retryable, check);
      assert.equal(fake.server.count('/api/v1/tasks/'), 0, 'nothing to poll after a refused submit');
    };
    it('maps a refused prompt (400 DataInspectionFailed) to content_policy_violation', submitFails({ kind: 'moderation' }, 'content_policy_violation', false));
    it('reads an error sent as HTTP 200 (code, no output) as the error it names', () =>
      submitFails(
        { kind: 'status', status: 200, body: { request_id: 'r1', code: 'InvalidParameter', message: 'Size not supported' } },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /Size not supported/),
      )());
    it('maps 429 Throttling.RateQuota to a retryable rate limit with its Retry-After', () =>
      submitFails({ kind: 'rate_limit', retryAfterSeconds: 3 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 3))());
    it('maps 500 InternalError to a retryable upstream error', submitFails({ kind: 'status', status: 500 }, 'upstream_error', true));
    it('maps 401 InvalidApiKey to a 502 configuration error that never names the key', () =>
      submitFails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes('sk-'));
      })());
    it('maps 403 AccessDenied to a configuration error', () =>
      submitFails(
        { kind: 'status', status: 403, body: { request_id: 'r2', code: 'AccessDenied', message: 'Access denied.' } },
        'upstream_configuration_error',
        false,
      )());
    it('treats a truncated submit answer as retryable', submitFails({ kind: 'truncate' }, 'upstream_error', true));

    it('rides out failed polls (garbled, 5xx, throttled) without creating a second task', async () => {
      fake.server.queue(
        { kind: 'ok' },
        { kind: 'invalid_json' },
        { kind: 'status', status: 500 },
        { kind: 'ok' },
        { kind: 'truncate' },
        { kind: 'rate_limit' },
      );
      const result = await generate();
      assert.equal(result.images.length, 1);
      assert.equal(fake.server.count('/image-synthesis'), 1);
    });

    it('gives up with a retryable error after three failed polls in a row', async () => {
      fake.server.queue({ kind: 'ok' }, { kind: 'invalid_json' }, { kind: 'status', status: 503 }, { kind: 'truncate' });
      await expectError(generate(), 'upstream_error', true);
      assert.equal(fake.server.count('/api/v1/tasks/'), 3);
    });

    it('ends at once on a poll refused for good, even in an HTTP 200', async () => {
      fake.server.queue(
        { kind: 'ok' },
        { kind: 'status', status: 200, body: { request_id: 'r3', code: 'InvalidApiKey', message: 'Invalid API-key provided.' } },
      );
      await expectError(generate(), 'upstream_configuration_error', false);
      assert.equal(fake.server.count('/api/v1/tasks/'), 1);
    });

    it('stops polling as soon as the signal aborts, and rejects with its reason', async () => {
      fake.pollsUntilDone = 1_000_000;
      const controller = new AbortController();
      const run = generate({}, controller.signal);
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.ok(fake.pollTimesMs.length > 2, 'it was polling');
      const abortedAtMs = performance.now();
      controller.abort(new Error('client left'));
      await assert.rejects(run, /client left/);
      assert.ok(performance.now() - abortedAtMs < 100, 'rejected promptly');
      const pollsAtAbort = fake.pollTimesMs.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(fake.pollTimesMs.length, pollsAtAbort, 'no poll after the abort');
    });

    it('cuts a stalled poll with the signal', async () => {
      fake.server.queue({ kind: 'ok' }, { kind: 'stall' });
      const startedMs = performance.now();
      await assert.rejects(generate({}, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      assert.ok(performance.now() - startedMs < 1000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(fake.server.aborted, 1, 'the fake saw the poll connection go');
    });
  });

  describe('sync multimodal-generation API', () => {
    it('sends the prompt as a message, without the async header, and reads the images and size', async () => {
      const result = await gen(
        requestFor({ model: 'qwen-image', prompt: 'a harbour at dawn', size: '1536x1024', seed: 7 }),
        channel('ds-max', 'qwen-image-max'),
      );
      const sent = fake.server.received[0];
      assert.equal(sent?.path, '/api/v1/services/aigc/multimodal-generation/generation');
      assert.equal(sent?.headers['x-dashscope-async'], undefined);
      assert.deepEqual(sent?.json, {
        model: 'qwen-image-max',
        input: { messages: [{ role: 'user', content: [{ text: 'a harbour at dawn' }] }] },
        parameters: { size: '1472*1104', n: 1, watermark: false, prompt_extend: true, seed: 7 },
      });
      assert.equal(fake.server.count('/api/v1/tasks/'), 0);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1472, 1104]);
      assert.deepEqual(result.deliveredSize, { width: 1472, height: 1104 });
      assert.equal(result.images[0]?.revisedPrompt, 'a harbour at dawn, highly detailed, soft light');
    });

    it('uses the sync API for a free-size model when the channel says so, sending the size as is', async () => {
      const result = await gen(
        requestFor({ model: 'qwen-image', prompt: 'a harbour', size: '928x1664' }),
        channel('ds-2', 'qwen-image-2.0-pro', { mode: 'sync' }),
      );
      assert.equal((fake.server.received[0]?.json as { parameters: { size: string } }).parameters.size, '928*1664');
      assert.equal(result.images.length, 1);
    });

    it('maps a refused prompt, an error in a 200 and an expired link like the async API', async () => {
      const sync = channel('ds-max-errors', 'qwen-image-max');
      const run = () => gen(requestFor({ model: 'qwen-image', prompt: 'x' }), sync);
      fake.server.queue({ kind: 'moderation' });
      await expectError(run(), 'content_policy_violation', false);
      fake.server.queue({ kind: 'status', status: 200, body: { code: 'InvalidParameter', message: 'Size not supported' } });
      await expectError(run(), 'invalid_value', false);
      fake.server.queue({ kind: 'ok' }, { kind: 'status', status: 403 });
      await expectError(run(), 'upstream_error', true);
    });
  });

  it('refuses a channel option it cannot read when the channel is built (at boot), naming it', () => {
    assert.throws(
      () => channel('ds-bad', 'qwen-image', { mode: 'batch' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /channels\.0 \(ds-bad\)\.options\.mode/);
        return true;
      },
    );
  });

  it('takes one image per call on the async API, up to 6 on the sync one', () => {
    const model = catalog.get('qwen-image') ?? assert.fail('no qwen-image');
    assert.equal(channel('ds-n', 'qwen-image-plus').provider.maxImagesPerCall(model), 1);
    assert.equal(channel('ds-n-sync', 'qwen-image-max', { mode: 'sync' }).provider.maxImagesPerCall(model), 1, 'qwen-image itself takes n=1');
  });

  it('the fake refuses a task created without X-DashScope-Async, as DashScope does', async () => {
    const response = await fetch(`${fake.url}/api/v1/services/aigc/text2image/image-synthesis`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-upstream-test', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen-image', input: { prompt: 'x' }, parameters: { size: '1328*1328', n: 1 } }),
    });
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { code?: unknown }).code, 'AccessDenied');
  });
});

describe('dashscope sizes', () => {
  it('keeps listed sizes, snaps others to the listed size of the nearest ratio, and leaves free-size models alone', () => {
    assert.deepEqual(upstreamSize({ width: 1328, height: 1328 }, 'qwen-image'), { width: 1328, height: 1328 });
    assert.deepEqual(upstreamSize({ width: 1024, height: 1024 }, 'qwen-image-plus'), { width: 1328, height: 1328 });
    assert.deepEqual(upstreamSize({ width: 1536, height: 1024 }, 'qwen-image-max'), { width: 1472, height: 1104 });
    assert.deepEqual(upstreamSize({ width: 1024, height: 1792 }, 'qwen-image'), { width: 928, height: 1664 });
    assert.deepEqual(upstreamSize({ width: 1024, height: 1024 }, 'qwen-image-2.0'), { width: 1024, height: 1024 });
  });
});
