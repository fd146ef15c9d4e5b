import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { toFile } from 'openai';
import { type ArkFake, arkError, startArkFake } from '../fakes/ark-fake.ts';
import { fakeImage } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { waitUntil } from '../support/checks.ts';

const SEEDREAM_4 = 'doubao-seedream-4-0-250828';
const SEEDREAM_45 = 'doubao-seedream-4-5-251128';
const ENDPOINT = 'ep-20261201123456-ark01';

/** Seedream through the gateway, called with the official client over real sockets, against a fake Ark. */
describe('Seedream through the ark provider, end to end', () => {
  let fake: ArkFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startArkFake();
    fake.bindEndpoint(ENDPOINT, SEEDREAM_45);
    const channels = [
      // Ark answers base64 (the default); a short per-attempt timeout so a stalled call is cut.
      { id: 'ark-b64', provider: 'ark', baseUrl: fake.baseUrl, apiKey: 'sk-upstream-test', models: { [SEEDREAM_4]: SEEDREAM_4 }, local: true, timeoutMs: 2000 },
      // An inference endpoint behind Seedream 4.5, answering with TOS links.
      {
        id: 'ark-links',
        provider: 'ark',
        baseUrl: fake.baseUrl,
        apiKey: 'sk-upstream-test',
        models: { [SEEDREAM_45]: ENDPOINT },
        local: true,
        options: { responseFormat: 'url' },
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const committedMicroUsd = async (): Promise<number> => (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;
  const b64 = (item: { b64_json?: string | undefined } | undefined): Buffer => Buffer.from(item?.b64_json ?? '', 'base64');

  it('b64_json: a non-square Seedream image, with provider, channel, cost and the delivered size', async () => {
    const { data, response } = await gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'a lighthouse at dusk', size: '1280x720' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'ark');
    assert.equal(response.headers.get('x-imagegate-channel'), 'ark-b64');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.03);
    assert.equal(data.data?.length, 1);
    const image = await decode(b64(data.data?.[0]));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1280, 720], 'Ark’s JPEG, transcoded to the png asked');
    assert.equal(data.size, '1280x720');
    const sent = fake.generations[0]?.json as Record<string, unknown>;
    assert.equal(sent['watermark'], false);
    assert.equal(sent['sequential_image_generation'], 'disabled');
  });

  it('url: n=3 from an endpoint id, the short set topped up, three signed gateway links, charged for three', async () => {
    const before = await committedMicroUsd();
    const { data, response } = await gateway
      .client()
      .images.generate({ model: SEEDREAM_45, prompt: 'a fox in the snow', n: 3, size: '2560x1440', response_format: 'url', output_format: 'jpeg' })
      .withResponse();
    assert.equal(data.data?.length, 3);
    assert.equal(fake.generations.length, 3, 'one set call (one picture: the prompt names no count) and two top-ups');
    assert.equal((fake.generations[0]?.json as Record<string, unknown>)['model'], ENDPOINT);
    assert.equal(fake.server.count('/ark-content-generation/'), 3, 'every TOS link fetched by the gateway');
    const seen = new Set<string>();
    for (const item of data.data ?? []) {
      const url = item.url ?? '';
      assert.ok(url.startsWith(gateway.baseUrl), url);
      assert.ok(!url.includes(fake.server.url), 'never the upstream link');
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 2560, 1440]);
      seen.add(image.bytes.toString('base64'));
    }
    assert.equal(seen.size, 3);
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.12);
    assert.equal((await committedMicroUsd()) - before, 120_000);
  });

  it('n=4 with a prompt that describes a set: one upstream call makes all four', async () => {
    const result = await gateway
      .client()
      .images.generate({ model: SEEDREAM_4, prompt: 'a set of 4 postcards of one courtyard through the seasons', n: 4, size: '1024x1024' });
    assert.equal(result.data?.length, 4);
    assert.equal(fake.generations.length, 1);
    assert.deepEqual((fake.generations[0]?.json as Record<string, unknown>)['sequential_image_generation_options'], { max_images: 4 });
    for (const item of result.data ?? []) assert.equal((await decode(b64(item))).width, 1024);
  });

  it('stream: true answers with a completed event per image once Ark has drawn them', async () => {
    const stream = await gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'a set of 2 stickers', n: 2, size: '1024x1024', stream: true } as never);
    const events: Array<{ type: string; b64_json?: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json?: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed', 'image_generation.completed'],
    );
    for (const event of events) assert.equal((await decode(Buffer.from(event.b64_json ?? '', 'base64'))).width, 1024);
    assert.ok(!('stream' in (fake.generations[0]?.json as Record<string, unknown>)), 'Ark is not asked to stream');
  });

  it('retries a 500 on the same channel: two upstream attempts, one image', async () => {
    fake.server.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'a kite', size: '1024x1024' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.generations.length, 2);
    assert.equal((await decode(b64(data.data?.[0]))).height, 1024);
  });

  it('an Ark 429 whose Retry-After outlasts the retry cap reaches the client as 429 with it', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: SEEDREAM_4, prompt: 'a kite', size: '1024x1024' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  const refused = async (run: () => Promise<unknown>): Promise<void> => {
    const before = await committedMicroUsd();
    await assert.rejects(run(), (err: unknown) => {
      const e = err as { status: number; code: string };
      assert.equal(e.status, 400);
      assert.equal(e.code, 'content_policy_violation');
      return true;
    });
    assert.equal(fake.generations.length, 1, 'a refusal is not retried');
    assert.equal(await committedMicroUsd(), before, 'nor charged');
  };

  it('a picture refused inside an HTTP 200 is a 400 content_policy_violation, not retried, not charged', async () => {
    fake.queuePictures('ok', 'sensitive');
    await refused(() => gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'a set of 2 posters', n: 2, size: '1024x1024' }));
  });

  it('a refused prompt (400 InputTextSensitiveContentDetected) is a 400 content_policy_violation, not charged', async () => {
    fake.server.queue({ kind: 'moderation' });
    await refused(() => gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'something bad', size: '1024x1024' }));
  });

  it('a refusal in a top-level error of an HTTP 200 is a 400 content_policy_violation, not charged', async () => {
    fake.server.queue({
      kind: 'status',
      status: 200,
      body: arkError('OutputImageSensitiveContentDetected', 'BadRequest', 'The output image may contain sensitive information.'),
    });
    await refused(() => gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'something bad', size: '1024x1024' }));
  });

  it('edits: the images go to Ark as references (data URLs), and the result comes back decoded', async () => {
    const photo = await fakeImage(320, 240, 'png', 1);
    const second = await fakeImage(240, 320, 'jpeg', 2);
    const result = await gateway.client().images.edit({
      model: SEEDREAM_4,
      image: [await toFile(photo, 'photo.png', { type: 'image/png' }), await toFile(second, 'second.jpg', { type: 'image/jpeg' })],
      prompt: 'put the boat of image 1 on the lake of image 2',
      size: '1152x864',
    });
    const sent = fake.generations[0]?.json as Record<string, unknown>;
    assert.deepEqual(sent['image'], [`data:image/png;base64,${photo.toString('base64')}`, `data:image/jpeg;base64,${second.toString('base64')}`]);
    const image = await decode(b64(result.data?.[0]));
    assert.deepEqual([image.width, image.height], [1152, 864]);
  });

  it('edits in the JSON form, with image_url data URLs', async () => {
    const photo = await fakeImage(200, 200, 'webp', 3);
    const response = await fetch(`${gateway.baseUrl}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: SEEDREAM_4,
        prompt: 'the same scene at night',
        images: [{ image_url: `data:image/webp;base64,${photo.toString('base64')}` }],
        size: '1024x1024',
        output_format: 'webp',
      }),
    });
    const json = (await response.json()) as { data?: Array<{ b64_json?: string }> };
    assert.equal(response.status, 200, JSON.stringify(json));
    assert.equal((fake.generations[0]?.json as Record<string, unknown>)['image'], `data:image/webp;base64,${photo.toString('base64')}`);
    const image = await decode(b64(json.data?.[0]));
    assert.deepEqual([image.format, image.width], ['webp', 1024]);
  });

  it('a stalled call is cut by the channel timeout (the connection closed) and retried', async () => {
    fake.server.queue({ kind: 'stall' });
    const { response } = await gateway.client().images.generate({ model: SEEDREAM_4, prompt: 'a kite', size: '1024x1024' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.aborted, 1, 'the stalled request was abandoned, not left open');
  });

  it('a client that disconnects aborts the upstream call and is charged nothing', async () => {
    fake.server.queue({ kind: 'stall' });
    const before = await committedMicroUsd();
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: SEEDREAM_45, prompt: 'a kite', size: '2560x1440' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.generations.length === 1);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => fake.server.aborted === 1);
    await waitUntil(async () => (await committedMicroUsd()) === before);
    assert.equal(fake.generations.length, 1, 'no retry after the client left');
  });

  it('refuses a size below Seedream 4.5’s pixel floor before calling Ark', async () => {
    await assert.rejects(gateway.client().images.generate({ model: SEEDREAM_45, prompt: 'a kite', size: '1024x1024' }), (err: unknown) => {
      assert.equal((err as { status: number }).status, 400);
      assert.match((err as { message: string }).message, /3,686,400/);
      return true;
    });
    assert.equal(fake.generations.length, 0);
  });

  it('lists the Seedream models as served by ark', async () => {
    const models = await gateway.client().models.list();
    const providers = Object.fromEntries(models.data.map((m) => [m.id, (m as unknown as { imagegate: { provider: string } }).imagegate.provider]));
    assert.equal(providers[SEEDREAM_4], 'ark');
    assert.equal(providers[SEEDREAM_45], 'ark');
  });
});
