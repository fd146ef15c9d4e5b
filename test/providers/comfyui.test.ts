import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildCatalog, MODELS } from '../../src/catalog/index.ts';
import type { ChannelConfig } from '../../src/config.ts';
import { validateGeneration } from '../../src/contract/generation.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { submitError } from '../../src/providers/comfyui/errors.ts';
import { latentSize } from '../../src/providers/comfyui/index.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import { PollPacer } from '../../src/providers/shared/poll-pacer.ts';
import type { PartialImage, ProviderResult } from '../../src/providers/types.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { type ComfyFake, type ComfyOutcome, startComfyFake } from '../fakes/comfyui-fake.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { decode } from '../support/images.ts';

/** An operator's own model, as `imagegate.yaml` would name an SDXL checkpoint on their GPU. */
const MY_SDXL = {
  id: 'my-sdxl',
  like: 'dall-e-2',
  ownedBy: 'self-hosted',
  maxN: 4,
  streaming: true,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultResponseFormat: 'b64_json',
  edit: null,
  extras: { negativePromptMaxChars: 2000, seed: true },
  size: {
    kind: 'free',
    multipleOf: 4,
    maxEdgePx: 2048,
    minPixels: 256 * 256,
    maxPixels: 2048 * 2048,
    maxAspectRatio: 4,
    commonSizes: ['1024x1024'],
    autoSize: '1024x1024',
  },
  price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.002 } } },
  priceSource: 'our GPU cost',
};
const catalog = buildCatalog(MODELS, { models: [MY_SDXL, { ...MY_SDXL, id: 'my-flux' }], aliases: {}, prices: {} });
const pacer = new PollPacer();
const FAST = { pollInitialMs: '5', pollMaxMs: '20', pollMinIntervalMs: '0' };
const MODELS_MAP = { 'my-sdxl': 'sd_xl_base_1.0.safetensors', 'my-flux': 'v1-5-pruned-emaonly.safetensors' };
const DEFAULT_GRAPH = JSON.parse(readFileSync(new URL('../../src/providers/comfyui/default-workflow.json', import.meta.url), 'utf8')) as Record<
  string,
  { class_type: string; inputs: Record<string, unknown> }
>;

function requestFor(body: Record<string, unknown>): GenerationRequest {
  return validateGeneration({ model: 'my-sdxl', prompt: 'a lighthouse at dusk', ...body }, { catalog, defaultModel: 'my-sdxl', unsupportedParams: 'error' });
}

describe('comfyui provider against a fake ComfyUI', () => {
  let fake: ComfyFake;
  let dir: string;
  const closers: Array<() => Promise<void>> = [];
  const channel = (options: Record<string, unknown> = FAST, extra: Partial<ChannelConfig> = {}): RoutedChannel => {
    const config: ChannelConfig = {
      id: 'comfy-test',
      provider: 'comfyui',
      baseUrl: fake.url,
      models: MODELS_MAP,
      priority: 0,
      weight: 1,
      timeoutMs: 10_000,
      maxConcurrency: 8,
      local: true,
      options,
      ...extra,
    };
    const built = buildChannels([config], PROVIDERS, catalog, { maxDownloadBytes: 20 * 1024 * 1024, downloadTimeoutMs: 5000 });
    closers.push(built.close);
    const routed = built.channels[0];
    assert.ok(routed !== undefined);
    return routed;
  };
  let main: RoutedChannel;
  const run = (
    request: GenerationRequest,
    routed: RoutedChannel = main,
    more: { signal?: AbortSignal; onPartial?: (partial: PartialImage) => void } = {},
  ): Promise<ProviderResult> =>
    routed.provider.generate(request, {
      channel: routed.channel,
      upstreamModel: routed.channel.models[request.model.id] ?? request.model.id,
      signal: more.signal ?? new AbortController().signal,
      requestId: 'req_test',
      logger: createLogger('silent'),
      pacer,
      ...(more.onPartial === undefined ? {} : { onPartial: more.onPartial }),
    });
  const generate = (body: Record<string, unknown> = {}, routed: RoutedChannel = main): Promise<ProviderResult> => run(requestFor(body), routed);
  const writeWorkflow = (name: string, graph: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(graph));
    return file;
  };
  const sentGraph = (index = 0): Record<string, { class_type: string; inputs: Record<string, unknown> }> =>
    (fake.submits[index]?.json as { prompt: never }).prompt;

  before(async () => {
    fake = await startComfyFake();
    dir = mkdtempSync(path.join(tmpdir(), 'comfy-workflows-'));
    main = channel();
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => fake.reset());

  const expectError = async (promise: Promise<unknown>, code: string, retryable: boolean, check?: (err: GatewayError) => void): Promise<void> => {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, `retryable for ${err.message}`);
      check?.(err);
      return true;
    });
  };

  describe('the wire', () => {
    it("fills the default workflow, queues it under the socket's client id and fetches the SaveImage output", async () => {
      const result = await generate({ seed: 42, negative_prompt: 'blurry', size: '1024x1024' });
      assert.equal(fake.submits.length, 1);
      const submit = fake.submits[0];
      assert.equal(submit?.headers['content-type'], 'application/json');
      assert.equal(submit?.headers['authorization'], undefined, 'ComfyUI has no auth; none is sent without a key');
      const body = submit?.json as { prompt: unknown; client_id: string };
      assert.deepEqual(Object.keys(body).sort(), ['client_id', 'prompt']);
      assert.deepEqual(fake.socketClients, [body.client_id], 'the socket opened before the prompt, under the same client id');
      const graph = sentGraph();
      assert.equal(graph['6']?.inputs['text'], 'a lighthouse at dusk');
      assert.equal(graph['7']?.inputs['text'], 'blurry');
      assert.equal(graph['3']?.inputs['seed'], 42);
      assert.deepEqual([graph['5']?.inputs['width'], graph['5']?.inputs['height'], graph['5']?.inputs['batch_size']], [1024, 1024, 1]);
      assert.equal(graph['4']?.inputs['ckpt_name'], 'sd_xl_base_1.0.safetensors', "the channel's upstream model is the checkpoint");
      // Everything else is the workflow as written.
      assert.deepEqual(graph['3']?.inputs['model'], ['4', 0]);
      assert.deepEqual(graph['9'], DEFAULT_GRAPH['9']);
      assert.equal(graph['3']?.inputs['steps'], 20);

      const views = fake.requests('GET', '/view');
      assert.equal(views.length, 1);
      assert.match(views[0]?.query.get('filename') ?? '', /^imagegate_\d+_\.png$/);
      assert.equal(views[0]?.query.get('type'), 'output');
      assert.equal(views[0]?.query.get('subfolder'), '');
      assert.equal(fake.requests('GET', '/history').length, 0, "the socket's executed message named the images");
      assert.equal(result.images.length, 1);
      assert.equal(result.images[0]?.mime, 'image/png');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
      assert.equal(result.deliveredSize, undefined);
    });

    it("keeps the workflow's own negative prompt when none is asked, and sends a fresh seed each time", async () => {
      await generate();
      await generate();
      const [first, second] = [sentGraph(0), sentGraph(1)];
      assert.equal(first['7']?.inputs['text'], DEFAULT_GRAPH['7']?.inputs['text']);
      const seeds = [first['3']?.inputs['seed'], second['3']?.inputs['seed']];
      assert.ok(seeds.every((seed) => typeof seed === 'number' && Number.isInteger(seed) && seed >= 0));
      assert.notEqual(seeds[0], seeds[1], 'ComfyUI would answer a repeated graph from its cache');
    });

    it("makes n images in one prompt through the latent's batch_size", async () => {
      const result = await generate({ n: 3, size: '512x768' });
      assert.equal(fake.submits.length, 1);
      assert.equal(sentGraph()['5']?.inputs['batch_size'], 3);
      assert.equal(result.images.length, 3);
      const decoded = await Promise.all(result.images.map((image) => decode(image.bytes)));
      assert.ok(decoded.every((image) => image.width === 512 && image.height === 768));
      assert.equal(new Set(result.images.map((image) => image.bytes.toString('base64'))).size, 3, 'three different pictures');
      assert.equal(fake.requests('GET', '/view').length, 3);
    });

    it('rounds a size off the latent grid to multiples of 8 and reports what was delivered', async () => {
      const result = await generate({ size: '1020x764' });
      const graph = sentGraph();
      assert.deepEqual([graph['5']?.inputs['width'], graph['5']?.inputs['height']], [1024, 768]);
      assert.deepEqual(result.deliveredSize, { width: 1024, height: 768 });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1024, 768]);
      assert.deepEqual(latentSize({ width: 4, height: 20_000 }), { width: 16, height: 16_384 });
    });

    it('sends a channel key as a Bearer token on every request and the socket (for a proxy in front)', async () => {
      const guarded = await startComfyFake({ apiKey: 'proxy-token' });
      try {
        const saved = fake;
        fake = guarded;
        const keyed = channel(FAST, { id: 'comfy-keyed', apiKey: 'proxy-token' });
        const result = await generate({}, keyed);
        fake = saved;
        assert.equal(result.images.length, 1);
        assert.equal(guarded.socketClients.length, 1, 'the socket passed the proxy');
        assert.ok(guarded.received.length >= 2 && guarded.received.every((r) => r.headers['authorization'] === 'Bearer proxy-token'));
      } finally {
        await guarded.close();
      }
    });
  });

  describe('progress', () => {
    it('turns sampler previews into partial images spread over the run, in the requested format and size', async () => {
      const partials: PartialImage[] = [];
      const result = await run(requestFor({ stream: true, partial_images: 2, size: '768x512', output_format: 'webp' }), main, {
        onPartial: (p) => partials.push(p),
      });
      assert.equal(result.images.length, 1);
      assert.deepEqual(
        partials.map((p) => [p.imageIndex, p.partialIndex]),
        [
          [0, 0],
          [0, 1],
        ],
      );
      for (const partial of partials) {
        const image = await decode(Buffer.from(partial.base64, 'base64'));
        assert.deepEqual([image.format, image.width, image.height], ['webp', 768, 512]);
      }
    });

    it('sends no partial images when the request does not stream', async () => {
      const partials: PartialImage[] = [];
      await run(requestFor({}), main, { onPartial: (p) => partials.push(p) });
      assert.equal(partials.length, 0);
    });

    it('polls /history/{prompt_id} when the socket cannot open', async () => {
      fake.socketMode = 'refuse';
      const result = await generate();
      assert.equal(result.images.length, 1);
      assert.equal(fake.socketClients.length, 0);
      const polls = fake.requests('GET', '/history/');
      assert.ok(polls.length >= 1);
      const viewed = fake.requests('GET', '/view').length;
      assert.equal(viewed, 1, 'the history named the image');
    });

    it('never opens a socket with websocket: false', async () => {
      const polling = channel({ ...FAST, websocket: false }, { id: 'comfy-polling' });
      const result = await generate({ n: 2 }, polling);
      assert.equal(result.images.length, 2);
      assert.equal(fake.socketClients.length, 0);
      assert.ok(fake.requests('GET', '/history/').length >= 1);
    });

    it('falls back to the history when the socket drops midway', async () => {
      fake.socketMode = 'drop';
      const result = await generate();
      assert.equal(result.images.length, 1);
      assert.equal(fake.socketClients.length, 1);
      assert.ok(fake.requests('GET', '/history/').length >= 1);
    });

    it('rides out failed history polls without queueing the prompt again', async () => {
      fake.socketMode = 'refuse';
      fake.steps = 12;
      fake.queue('/history', { kind: 'status', status: 502 }, { kind: 'invalid_json' }, { kind: 'ok' }, { kind: 'truncate' });
      try {
        const result = await generate();
        assert.equal(result.images.length, 1);
        assert.equal(fake.submits.length, 1);
      } finally {
        fake.steps = 6;
      }
    });
  });

  describe('how prompts end', () => {
    const endsWith = (outcome: ComfyOutcome, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      for (const socketMode of ['ok', 'refuse'] as const) {
        fake.reset();
        fake.socketMode = socketMode;
        fake.queueOutcomes(outcome);
        await expectError(generate(), code, retryable, check);
        assert.equal(fake.requests('GET', '/view').length, 0, `nothing fetched (${socketMode})`);
      }
    };
    it("maps a safety checker's refusal to content_policy_violation (socket and history alike)", () =>
      endsWith('nsfw', 'content_policy_violation', false, (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /NSFW content detected/);
      })());
    it(
      'maps running out of GPU memory to a retryable error',
      endsWith('oom', 'upstream_error', true, (e) => assert.match(e.message, /out of memory/)),
    );
    it(
      'maps a failing node to a 502 that is not retried, naming the node',
      endsWith('error', 'upstream_error', false, (e) => assert.match(e.message, /node 8 \(VAEDecode\)/)),
    );
    it('maps an interrupted prompt to a retryable error', endsWith('interrupted', 'upstream_error', true));
    it('maps a prompt that wrote no image to a retryable malformed answer', endsWith('no_outputs', 'upstream_malformed', true));

    it('maps an output file that is gone (404 on /view) to a retryable error', async () => {
      fake.queue('/view', { kind: 'status', status: 404, body: {} });
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /404/));
    });
  });

  describe('refused prompts and HTTP faults', () => {
    const submitFails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.queue('/prompt', fault);
      await expectError(generate(), code, retryable, check);
      assert.equal(fake.requests('GET', '/view').length, 0);
    };
    it('maps a 500 to a retryable upstream error', submitFails({ kind: 'status', status: 500 }, 'upstream_error', true));
    it("maps a 429 (a proxy's) to a retryable rate limit with its Retry-After", () =>
      submitFails({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7))());
    it(
      "maps a 401 (a proxy's) to a configuration error",
      submitFails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => assert.equal(e.status, 502)),
    );
    it('treats a truncated answer as retryable', submitFails({ kind: 'truncate' }, 'upstream_error', true));
    it('treats an answer that is not JSON as malformed (retryable)', submitFails({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it(
      'treats an answer without prompt_id as malformed',
      submitFails({ kind: 'status', status: 200, body: { number: 3, node_errors: {} } }, 'upstream_malformed', true),
    );

    it('maps a checkpoint ComfyUI does not have (value_not_in_list) to a configuration error naming the node', async () => {
      const wrong = channel(FAST, { id: 'comfy-wrong-ckpt', models: { 'my-sdxl': 'missing.safetensors' } });
      // A prompt of an earlier test may still be finishing in the fake: this one must add none.
      const runningBefore = fake.running;
      await expectError(generate({}, wrong), 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.match(e.message, /node 4 \(CheckpointLoaderSimple\): ckpt_name: 'missing\.safetensors' not in/);
      });
      assert.ok(fake.running <= runningBefore, 'a refused graph runs nothing');
    });

    it('maps a node class ComfyUI does not know (invalid_prompt) to a configuration error', async () => {
      const graph = structuredClone(DEFAULT_GRAPH);
      graph['8'] = { class_type: 'VAEDecodeTiledMissing', inputs: { samples: ['3', 0], vae: ['4', 2] } };
      const odd = channel({ ...FAST, workflow: writeWorkflow('unknown-node.json', graph) }, { id: 'comfy-unknown-node' });
      await expectError(generate({}, odd), 'upstream_configuration_error', false, (e) => assert.match(e.message, /VAEDecodeTiledMissing does not exist/));
    });

    it('maps validation errors about request values only (too large, too small) to invalid_value', () => {
      const body = JSON.stringify({
        error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
        node_errors: {
          '5': {
            errors: [{ type: 'value_bigger_than_max', message: 'Value 20000 bigger than max of 16384', details: 'width' }],
            class_type: 'EmptyLatentImage',
          },
        },
      });
      const error = submitError(400, {}, body);
      assert.equal(error.code, 'invalid_value');
      assert.equal(error.status, 400);
      assert.match(error.message, /node 5 \(EmptyLatentImage\)/);
      assert.equal(submitError(400, {}, '<html>').code, 'invalid_value', "a 400 without ComfyUI's body says what the status says");
    });
  });

  describe('an abandoned prompt', () => {
    it('is taken off the queue and interrupted when the call is aborted', async () => {
      fake.queueOutcomes('hang');
      const controller = new AbortController();
      const partials: PartialImage[] = [];
      const pending = run(requestFor({}), main, { signal: controller.signal, onPartial: (p) => partials.push(p) });
      await waitUntil(() => fake.running === 1 && fake.submits.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 30));
      controller.abort(new Error('client left'));
      await assert.rejects(pending, /client left/);
      await waitUntil(() => fake.requests('POST', '/interrupt').length === 1);
      const promptId = JSON.stringify(fake.requests('POST', '/interrupt')[0]?.json);
      const deleted = fake.requests('POST', '/queue')[0]?.json as { delete: string[] };
      assert.equal(deleted.delete.length, 1);
      assert.equal(promptId, JSON.stringify({ prompt_id: deleted.delete[0] }), 'only this prompt is interrupted');
      await waitUntil(() => fake.running === 0);
    });

    it('is interrupted when the history polling is aborted too', async () => {
      fake.queueOutcomes('hang');
      fake.socketMode = 'refuse';
      const controller = new AbortController();
      const pending = run(requestFor({}), main, { signal: controller.signal });
      await waitUntil(() => fake.requests('GET', '/history/').length >= 2);
      controller.abort(new Error('deadline'));
      await assert.rejects(pending, /deadline/);
      await waitUntil(() => fake.running === 0);
      assert.equal(fake.requests('POST', '/interrupt').length, 1);
    });
  });

  describe('workflows, checked at boot', () => {
    const bind = (options: Record<string, unknown>) => {
      const registered = PROVIDERS.get('comfyui');
      assert.ok(registered !== undefined);
      return registered.bind(options);
    };
    const issues = (options: Record<string, unknown>): string => {
      const bound = bind(options);
      assert.equal(bound.ok, false, 'the options should be refused');
      return bound.ok ? '' : bound.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    };

    it('refuses a workflow that does not have a mapped node, naming the node', () => {
      const graph = structuredClone(DEFAULT_GRAPH);
      delete graph['7'];
      const message = issues({ workflow: writeWorkflow('no-negative.json', graph) });
      assert.match(message, /^workflow: /);
      assert.match(message, /negative_prompt maps to node '7', which the workflow does not have/);
    });

    it('refuses a mapping to an input the node lacks or one wired to another node', () => {
      assert.match(issues({ seed: '3.noise_seed' }), /input 'noise_seed' of node '3' \(KSampler\), which has no such input/);
      assert.match(issues({ prompt: '3.model' }), /wired to another node/);
      assert.match(issues({ prompt: 'text' }), /"<node id>.<input name>"/);
    });

    it('refuses files that are not API-format workflows', () => {
      assert.match(issues({ workflow: path.join(dir, 'absent.json') }), /cannot read/);
      assert.match(issues({ workflow: writeWorkflow('ui.json', { nodes: [], links: [], version: 0.4 }) }), /Save \(API Format\)/);
      writeFileSync(path.join(dir, 'broken.json'), '{"3": ');
      assert.match(issues({ workflow: path.join(dir, 'broken.json') }), /is not JSON/);
    });

    it('accepts a workflow without a negative prompt when it is mapped to null, and refuses negative_prompt then', async () => {
      const graph = structuredClone(DEFAULT_GRAPH);
      graph['7'] = { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } };
      const bound = bind({ workflow: writeWorkflow('ok.json', graph), negative_prompt: null });
      assert.equal(bound.ok, true);
      const plain = channel({ ...FAST, negative_prompt: null }, { id: 'comfy-no-negative' });
      await expectError(generate({ negative_prompt: 'blur' }, plain), 'unsupported_parameter', false);
      assert.equal(fake.submits.length, 0);
    });

    it('fans n out one prompt per image where the workflow maps no batch size', async () => {
      const single = channel({ ...FAST, batch_size: null }, { id: 'comfy-single' });
      const model = catalog.get('my-sdxl');
      assert.ok(model !== undefined);
      assert.equal(single.provider.maxImagesPerCall(model), 1);
      assert.equal(main.provider.maxImagesPerCall(model), 4);
      await generate({}, single);
      assert.equal(sentGraph()['5']?.inputs['batch_size'], 1, "the workflow's own value stays");
    });

    it("runs a model's own workflow, with its own node ids, for that model only", async () => {
      // A graph laid out differently: the prompt in node 12, the latent in node 20.
      const own = {
        '10': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'x' } },
        '12': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['10', 1] } },
        '13': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['10', 1] } },
        '20': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
        '30': {
          class_type: 'KSampler',
          inputs: {
            seed: 1,
            steps: 4,
            cfg: 1,
            sampler_name: 'euler',
            scheduler: 'simple',
            denoise: 1,
            model: ['10', 0],
            positive: ['12', 0],
            negative: ['13', 0],
            latent_image: ['20', 0],
          },
        },
        '40': { class_type: 'VAEDecode', inputs: { samples: ['30', 0], vae: ['10', 2] } },
        '50': { class_type: 'SaveImage', inputs: { filename_prefix: 'flux', images: ['40', 0] } },
      };
      const file = writeWorkflow('flux.json', own);
      const both = channel(
        {
          ...FAST,
          workflows: {
            'my-flux': {
              workflow: file,
              prompt: '12.text',
              negative_prompt: '13.text',
              seed: '30.seed',
              width: '20.width',
              height: '20.height',
              batch_size: '20.batch_size',
              checkpoint: '10.ckpt_name',
            },
          },
        },
        { id: 'comfy-two-workflows' },
      );
      await run(requestFor({ model: 'my-flux', size: '768x768' }), both);
      const graph = sentGraph();
      assert.deepEqual(Object.keys(graph).sort(), Object.keys(own).sort());
      assert.equal(graph['12']?.inputs['text'], 'a lighthouse at dusk');
      assert.equal(graph['20']?.inputs['width'], 768);
      assert.equal(graph['10']?.inputs['ckpt_name'], 'v1-5-pruned-emaonly.safetensors');
      await run(requestFor({ model: 'my-sdxl' }), both);
      assert.equal(sentGraph(1)['6']?.inputs['text'], 'a lighthouse at dusk', "other models keep the channel's workflow");

      // A model's workflow is checked at boot like the channel's.
      assert.match(issues({ workflows: { 'my-flux': file } }), /^workflows\.my-flux: .*prompt maps to node '6'/m);
    });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
