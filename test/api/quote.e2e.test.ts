import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fakePng } from '../fakes/fake-images.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

interface Quote {
  object: string;
  model: string;
  n: number;
  size: string;
  quality: string;
  currency: string;
  max_cost_usd: number;
  expected_cost_usd: number;
  price: { rule: string; source: string; usd_per_image?: number };
}

async function post(
  gateway: TestGateway,
  route: string,
  body: unknown,
  key = gateway.key,
): Promise<{ status: number; json: unknown; requestId: string; text: string }> {
  const response = await fetch(`${gateway.baseUrl}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // an event stream
  }
  return { status: response.status, json, requestId: response.headers.get('x-request-id') ?? '', text };
}

const micro = (usd: number): number => Math.round(usd * 1_000_000);

describe('POST /v1/images/quote', () => {
  let gateway: TestGateway;
  let keyId: string;
  let dataUrl: string;
  before(async () => {
    gateway = await startGateway();
    keyId = (await gateway.deps.keys.list('user')).find((row) => row.name === 'test')?.id ?? '';
    dataUrl = `data:image/png;base64,${(await fakePng(1024, 1024, 7)).toString('base64')}`;
  });
  after(async () => {
    await gateway.close();
  });

  /** The amount of the budget hold the ledger took for one request id. */
  async function holdOf(requestId: string): Promise<number> {
    const hold = (await gateway.deps.ledger.entries(keyId)).find((entry) => entry.kind === 'hold' && entry.request_id === requestId);
    assert.ok(hold !== undefined, `no hold for ${requestId}`);
    return hold.amount_micro_usd;
  }

  it('answers the price of a generation in the documented shape', async () => {
    const { status, json } = await post(gateway, '/v1/images/quote', { model: 'dall-e-3', prompt: 'a red kite', quality: 'hd', size: '1792x1024' });
    assert.equal(status, 200);
    assert.deepEqual(json, {
      object: 'image.quote',
      model: 'dall-e-3',
      n: 1,
      size: '1792x1024',
      quality: 'hd',
      currency: 'USD',
      max_cost_usd: 0.12,
      expected_cost_usd: 0.12,
      price: { rule: 'per_image', usd_per_image: 0.12, source: gateway.deps.catalog.get('dall-e-3')?.priceSource },
    });
  });

  const requests: Array<{ what: string; route: '/v1/images/generations' | '/v1/images/edits'; body: () => Record<string, unknown> }> = [
    {
      what: 'gpt-image-1, two high-quality portraits',
      route: '/v1/images/generations',
      body: () => ({ model: 'gpt-image-1', prompt: 'two herons in the rain', n: 2, quality: 'high', size: '1024x1536' }),
    },
    { what: 'dall-e-3 with defaults', route: '/v1/images/generations', body: () => ({ prompt: 'a paper boat' }) },
    {
      what: 'gpt-image-2 at a free size',
      route: '/v1/images/generations',
      body: () => ({ model: 'gpt-image-2', prompt: 'a wide valley', size: '1536x864', quality: 'low' }),
    },
    {
      what: 'qwen-image with a size it maps',
      route: '/v1/images/generations',
      body: () => ({ model: 'qwen-image', prompt: 'a tea house', size: '1024x1024' }),
    },
    {
      what: 'a stream with partial images (billed as output tokens)',
      route: '/v1/images/generations',
      body: () => ({ model: 'gpt-image-1-mini', prompt: 'a fox in the snow, 雪の狐', quality: 'medium', stream: true, partial_images: 2 }),
    },
    {
      what: 'a JSON edit of a token-priced model (its input image held too)',
      route: '/v1/images/edits',
      body: () => ({ model: 'gpt-image-1', prompt: 'add a moon', images: [{ image_url: dataUrl }], input_fidelity: 'high', quality: 'low' }),
    },
  ];
  for (const { what, route, body } of requests) {
    it(`${what}: the real request's budget hold equals max_cost_usd`, async () => {
      const quote = await post(gateway, '/v1/images/quote', body());
      assert.equal(quote.status, 200, quote.text);
      const { max_cost_usd: max, expected_cost_usd: expected } = quote.json as Quote;
      assert.ok(expected > 0 && expected <= max, `${expected} ≤ ${max}`);
      const real = await post(gateway, route, body());
      assert.equal(real.status, 200, real.text.slice(0, 300));
      assert.equal(await holdOf(real.requestId), micro(max));
    });
  }

  it('quotes an edit of a model whose edits are multipart only, and its multipart edit holds max_cost_usd', async () => {
    const square = await fakePng(512, 512, 3);
    const quote = await post(gateway, '/v1/images/quote', {
      model: 'dall-e-2',
      prompt: 'add a moon',
      n: 2,
      images: [{ image_url: `data:image/png;base64,${square.toString('base64')}` }],
    });
    assert.equal(quote.status, 200, quote.text);
    const { max_cost_usd: max, size } = quote.json as Quote;
    assert.equal(size, '1024x1024');
    const form = new FormData();
    form.set('model', 'dall-e-2');
    form.set('prompt', 'add a moon');
    form.set('n', '2');
    form.set('image', new Blob([new Uint8Array(square)], { type: 'image/png' }), 'square.png');
    const real = await fetch(`${gateway.baseUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gateway.key}` }, body: form });
    assert.equal(real.status, 200, await real.clone().text());
    await real.arrayBuffer();
    assert.equal(await holdOf(real.headers.get('x-request-id') ?? ''), micro(max));
  });

  it('expects what a non-streamed request is then charged (the catalog’s own usage, as the local renderer reports)', async () => {
    for (const body of [
      { model: 'gpt-image-1', prompt: 'a lighthouse at night', quality: 'medium', n: 3 },
      { model: 'dall-e-2', prompt: 'a kite', size: '512x512', n: 2 },
    ]) {
      const quote = (await post(gateway, '/v1/images/quote', body)).json as Quote;
      const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.arrayBuffer();
      assert.equal(micro(Number(response.headers.get('x-imagegate-cost-usd'))), micro(quote.expected_cost_usd));
    }
  });

  it('holds, charges and stores nothing', async () => {
    const { row, plaintext } = await gateway.deps.keys.create({ name: 'quoter', budgetMicroUsd: 1 });
    for (let i = 0; i < 3; i += 1)
      assert.equal((await post(gateway, '/v1/images/quote', { model: 'gpt-image-1', prompt: 'a moon', n: 4 }, plaintext)).status, 200);
    assert.deepEqual(await gateway.deps.ledger.entries(row.id), []);
    assert.equal((await gateway.deps.keys.get(row.id))?.committed_micro_usd, 0);
    assert.deepEqual(await gateway.deps.imagesRepo.listOwned(row.id, Date.now(), 10, undefined), []);
  });

  const mistakes: Array<[string, unknown]> = [
    ['no prompt', { model: 'dall-e-3' }],
    ['an unknown field', { prompt: 'x', colour: 'blue' }],
    ['a size the model does not make', { model: 'dall-e-3', prompt: 'x', size: '999x999' }],
    ['too many images', { model: 'dall-e-3', prompt: 'x', n: 2 }],
    ['an unknown model', { model: 'dall-e-9', prompt: 'x' }],
    ['a field of the wrong type', { prompt: 'x', n: 'two' }],
    ['a field the model does not take', { model: 'dall-e-2', prompt: 'x', output_format: 'webp' }],
    ['not an object', [1, 2]],
    ['not JSON', '{"prompt": '],
    ['an edit without its image', { model: 'gpt-image-1', prompt: 'x', images: [] }],
    ['an edit of a model that does not edit', { model: 'dall-e-3', prompt: 'x', images: [{ image_url: 'data:image/png;base64,AAAA' }] }],
  ];
  for (const [what, body] of mistakes) {
    it(`answers ${what} with the error the real request gives`, async () => {
      const isEdit = typeof body === 'object' && body !== null && 'images' in body;
      const real = await post(gateway, isEdit ? '/v1/images/edits' : '/v1/images/generations', body);
      const quote = await post(gateway, '/v1/images/quote', body);
      assert.ok(real.status >= 400 && real.status < 500, `${real.status} ${real.text}`);
      assert.deepEqual([quote.status, quote.json], [real.status, real.json]);
    });
  }

  it('applies the key’s model policy like the real request', async () => {
    const { plaintext } = await gateway.deps.keys.create({ name: 'narrow', allowedModels: ['dall-e-2'] });
    const body = { model: 'gpt-image-1', prompt: 'a moon' };
    const quote = await post(gateway, '/v1/images/quote', body, plaintext);
    const real = await post(gateway, '/v1/images/generations', body, plaintext);
    assert.deepEqual([quote.status, quote.json], [real.status, real.json]);
    assert.equal(quote.status, 403);
    assert.equal((await post(gateway, '/v1/images/quote', body, 'sk-ig-nope')).status, 401);
  });
});

describe('POST /v1/images/quote with an upstream channel', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      { id: 'openai', provider: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-upstream-test', models: { 'gpt-image-1': 'gpt-image-1' }, local: true },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('calls no upstream', async () => {
    const quote = await post(gateway, '/v1/images/quote', { model: 'gpt-image-1', prompt: 'a moon', quality: 'low' });
    assert.equal(quote.status, 200);
    assert.equal(upstream.received.length, 0);
    const real = await post(gateway, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a moon', quality: 'low' });
    assert.equal(real.status, 200);
    assert.equal(upstream.received.length, 1);
  });
});
