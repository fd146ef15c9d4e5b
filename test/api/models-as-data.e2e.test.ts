import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';

/**
 * Models are data: operators add models (`like` a built-in), change them, alias them, and pick
 * how unsupported fields are handled, all from configuration; the official client sees the result.
 */
const OPERATOR_MODELS = [
  { id: 'my-flux', like: 'dall-e-3' },
  { id: 'house-style', like: 'gpt-image-1', maxN: 2, promptMaxChars: 100 },
  {
    id: 'my-banana',
    like: 'gpt-image-1',
    ownedBy: 'google',
    size: { kind: 'aspect', ratios: ['1:1', '16:9', '9:16'], tiers: { '1K': 1024, '2K': 2048 }, defaultRatio: '1:1', defaultTier: '1K' },
  },
  { id: 'banana', aliasOf: 'my-banana' },
];

describe('operator-defined models and aliases', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ IMAGEGATE_MODELS: JSON.stringify(OPERATOR_MODELS) });
  });
  after(async () => {
    await gateway.close();
  });

  it('lists added models and aliases in /v1/models with their rules', async () => {
    const ids = [];
    for await (const model of gateway.client().models.list()) ids.push(model.id);
    for (const id of ['my-flux', 'house-style', 'my-banana', 'banana', 'dall-e-3']) assert.ok(ids.includes(id), `${id} is listed`);
    const banana = (await (await fetch(`${gateway.baseUrl}/v1/models/banana`, { headers: { authorization: `Bearer ${gateway.key}` } })).json()) as {
      id: string;
      imagegate: { alias_of: string; aspect_ratios: string[]; resolutions: string[]; provider: string };
    };
    assert.equal(banana.id, 'banana');
    assert.equal(banana.imagegate.alias_of, 'my-banana');
    assert.deepEqual(banana.imagegate.aspect_ratios, ['1:1', '16:9', '9:16']);
    assert.deepEqual(banana.imagegate.resolutions, ['1K', '2K']);
    assert.equal(banana.imagegate.provider, 'local');
  });

  it('generates with a model added like dall-e-3 (its rules, served by local)', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'my-flux', prompt: 'a harbour at dusk' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'local');
    const image = data.data?.[0];
    assert.ok(image?.url !== undefined, 'dall-e-3 rules: a url by default');
    assert.ok((image.revised_prompt ?? '').length > 0, 'and a revised prompt');
    assert.deepEqual([(await fetchImage(image.url)).width, (await fetchImage(image.url)).height], [1024, 1024]);
    await assert.rejects(gateway.client().images.generate({ model: 'my-flux', prompt: 'x', n: 2 }), (err: { status: number; param: string }) => {
      assert.equal(err.status, 400);
      assert.equal(err.param, 'n');
      return true;
    });
  });

  it('applies overridden fields of an added model', async () => {
    await assert.rejects(gateway.client().images.generate({ model: 'house-style', prompt: 'x'.repeat(101) }), (err: { status: number; param: string }) => {
      assert.equal(err.param, 'prompt');
      return true;
    });
    const result = await gateway.client().images.generate({ model: 'house-style', prompt: 'a fox', n: 2, quality: 'low' });
    assert.equal(result.data?.length, 2);
  });

  it('maps an OpenAI size to the nearest aspect ratio, and says what was delivered', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'banana', prompt: 'a wide beach', size: '1792x1024', quality: 'low' })
      .withResponse();
    const decoded = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    // 16:9 at the 1K tier: 1024² pixels at 16:9, edges multiples of 16.
    assert.deepEqual([decoded.width, decoded.height], [1360, 768]);
    assert.equal(data.size, '1360x768');
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1360x768');
  });

  it('takes aspect_ratio and resolution on aspect-ratio models only', async () => {
    const post = (body: object) =>
      fetch(`${gateway.baseUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const tall = await post({ model: 'my-banana', prompt: 'a tower', aspect_ratio: '9:16', resolution: '1k', quality: 'low' });
    assert.equal(tall.status, 200);
    const body = (await tall.json()) as { data: Array<{ b64_json: string }>; size: string };
    assert.equal(body.size, '768x1360');
    const bad = await post({ model: 'my-banana', prompt: 'a tower', aspect_ratio: '4:3' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'aspect_ratio');
    const notTaken = await post({ model: 'dall-e-3', prompt: 'a tower', aspect_ratio: '1:1' });
    assert.equal(notTaken.status, 400);
    const error = ((await notTaken.json()) as { error: { param: string; code: string; message: string } }).error;
    assert.deepEqual([error.param, error.code], ['aspect_ratio', 'unsupported_parameter']);
    assert.match(error.message, /my-banana/, 'the message names the models that take it');
  });

  it('reports qwen-image sizes mapped from OpenAI sizes in the header and the body', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'qwen-image', prompt: 'a kite', size: '1024x1024' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1328x1328');
    assert.equal(data.size, '1328x1328');
  });

  it('uses dall-e-3 when a request names no model (CometAPI default)', async () => {
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a lighthouse' }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: Array<{ url?: string; revised_prompt?: string }> };
    assert.ok(body.data[0]?.url !== undefined && (body.data[0].revised_prompt ?? '') !== '', 'dall-e-3 answers a url and a revised prompt');
  });
});

describe('bad model entries stop the start, naming the entry and the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[{ id: 'x', like: 'nope' }], /models\.0 \(x\)\.like: 'nope' is not a model/],
    [[{ id: 'x' }], /models\.0 \(x\): 'x' is not a built-in model; add 'like/],
    [[{ id: 'x', like: 'dall-e-3', maxN: 0 }], /models\.0 \(x\): maxN: /],
    [[{ id: 'x', like: 'dall-e-3', defaultQuality: 'ultra' }], /models\.0 \(x\): defaultQuality: defaultQuality must be one of qualities/],
    [[{ id: 'x', like: 'dall-e-3', sizes: ['1x1'] }], /models\.0 \(x\): \(entry\): Unrecognized key/],
    [[{ id: 'alias', aliasOf: 'nope' }], /aliases\.alias: 'nope' is not a model/],
  ];
  for (const [models, expected] of cases) {
    it(`refuses ${JSON.stringify(models)}`, async () => {
      await assert.rejects(startGateway({ IMAGEGATE_MODELS: JSON.stringify(models) }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, expected);
        return true;
      });
    });
  }
});

describe('unsupported parameters: error (default) or drop', () => {
  let strict: TestGateway;
  let lenient: TestGateway;
  before(async () => {
    strict = await startGateway();
    lenient = await startGateway({ IMAGEGATE_UNSUPPORTED_PARAMS: 'drop' });
  });
  after(async () => {
    await strict.close();
    await lenient.close();
  });

  // What LangChain's DallEAPIWrapper sends, whatever the model.
  const langchain = { model: 'gpt-image-1', prompt: 'a lighthouse', style: 'vivid', quality: 'standard', n: 1, size: '1024x1024' };

  it('refuses a field the model does not take by default, naming it', async () => {
    await assert.rejects(strict.client().images.generate(langchain as never), (err: { status: number; param: string; code: string }) => {
      assert.equal(err.status, 400);
      assert.ok(['style', 'quality'].includes(err.param), err.param);
      return true;
    });
  });

  it('drops them in drop mode, lists them in x-imagegate-dropped-params, and still refuses values out of range', async () => {
    const { data, response } = await lenient
      .client()
      .images.generate(langchain as never)
      .withResponse();
    assert.equal(data.data?.length, 1);
    assert.deepEqual(response.headers.get('x-imagegate-dropped-params')?.split(', ').sort(), ['quality', 'style']);
    assert.equal(data.quality, 'medium', 'the dropped quality resolves as if not given');
    await assert.rejects(lenient.client().images.generate({ model: 'gpt-image-1', prompt: 'x', n: 50 }), (err: { status: number; param: string }) => {
      assert.deepEqual([err.status, err.param], [400, 'n']);
      return true;
    });
    await assert.rejects(
      lenient.client().images.generate({ model: 'gpt-image-1', prompt: 'x', quality: 'ultra' as never }),
      (err: { status: number; param: string }) => {
        assert.deepEqual([err.status, err.param], [400, 'quality']);
        return true;
      },
    );
  });
});
