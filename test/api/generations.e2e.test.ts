import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultSize, MODELS } from '../../src/catalog/index.ts';
import { alphaCounts, decode, fetchImage } from '../support/images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/**
 * End to end over a real socket with the official `openai` client, as a user would call it, on
 * the embedded backends and on the scaled ones (PostgreSQL, Redis, S3 with presigned links).
 */
for (const mode of ['embedded', 'scaled'] as const)
  describe(`POST /v1/images/generations with the openai client (${mode})`, () => {
    let gateway: TestGateway;
    before(async () => {
      gateway = await startGateway({}, mode);
    });
    after(async () => {
      await gateway.close();
    });

    it('answers the documented example with a URL to a 1024x1024 PNG and a revised prompt', async () => {
      const client = gateway.client();
      const { data, response } = await client.images.generate({ model: 'dall-e-3', prompt: 'A paper boat floating on calm water at sunrise.' }).withResponse();
      assert.equal(response.headers.get('x-imagegate-provider'), 'local');
      assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{24}$/);
      assert.ok(Math.abs(data.created - Date.now() / 1000) < 60);
      assert.equal(data.data?.length, 1);
      const [image] = data.data ?? [];
      assert.ok(image?.url !== undefined);
      if (mode === 'embedded') assert.match(image.url, /^http:\/\/127\.0\.0\.1:\d+\/files\/\d{8}\/[0-9a-f]{32}\.png\?expires=\d+&sig=/);
      else assert.match(image.url, /X-Amz-Signature=/);
      assert.equal(image.b64_json, undefined);
      assert.ok((image.revised_prompt ?? '').length > 0);
      const decoded = await fetchImage(image.url);
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 1024, 1024]);
    });

    for (const model of MODELS) {
      it(`${model.id}: default response format (${model.defaultResponseFormat}) and the other one both decode at the right size`, async () => {
        const client = gateway.client();
        const expected = defaultSize(model.size);
        const [width, height] = expected.split('x').map(Number);
        const plain = await client.images.generate({ model: model.id, prompt: 'a lighthouse on a cliff at night' });
        const plainImage = plain.data?.[0];
        assert.ok(plainImage !== undefined);
        if (model.defaultResponseFormat === 'url') {
          assert.ok(plainImage.url !== undefined && plainImage.b64_json === undefined);
          const decoded = await fetchImage(plainImage.url);
          assert.deepEqual([decoded.width, decoded.height], [width, height]);
        } else {
          assert.ok(plainImage.b64_json !== undefined && plainImage.url === undefined);
          const decoded = await decode(Buffer.from(plainImage.b64_json, 'base64'));
          assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', width, height]);
        }
        const other = model.defaultResponseFormat === 'url' ? 'b64_json' : 'url';
        const flipped = await client.images.generate({ model: model.id, prompt: 'a lighthouse on a cliff at night', response_format: other });
        const flippedImage = flipped.data?.[0];
        assert.ok(flippedImage !== undefined);
        const bytes = other === 'url' ? (await fetchImage(flippedImage.url ?? '')).bytes : Buffer.from(flippedImage.b64_json ?? '', 'base64');
        const decoded = await decode(bytes);
        assert.deepEqual([decoded.width, decoded.height], [width, height]);
        // The response carries exactly the fields the model's catalog entry lists.
        const fields = new Set(model.responseFields);
        assert.equal(plain.output_format, fields.has('output_format') ? 'png' : undefined);
        if (fields.has('size')) assert.equal(plain.size, expected);
        assert.equal(plain.background, fields.has('background') ? 'opaque' : undefined);
        if (fields.has('quality')) assert.ok(['low', 'medium', 'high'].includes(plain.quality ?? ''));
        if (fields.has('usage')) {
          assert.ok(plain.usage !== undefined && plain.usage.output_tokens > 0);
          assert.equal(plain.usage.total_tokens, plain.usage.input_tokens + plain.usage.output_tokens);
        } else {
          assert.equal(plain.usage, undefined);
        }
      });
    }

    it('n=3 gives three distinct decodable images', async () => {
      const result = await gateway.client().images.generate({ model: 'gpt-image-1-mini', prompt: 'three red kites over a meadow', n: 3, quality: 'low' });
      const images = (result.data ?? []).map((item) => Buffer.from(item.b64_json ?? '', 'base64'));
      assert.equal(images.length, 3);
      assert.equal(new Set(images.map((bytes) => bytes.toString('base64'))).size, 3);
      for (const bytes of images) assert.equal((await decode(bytes)).width, 1024);
      const usage = result.usage;
      assert.ok(usage !== undefined);
      assert.equal(usage.output_tokens, 272 * 3);
    });

    for (const format of ['png', 'jpeg', 'webp'] as const) {
      it(`output_format ${format} is really ${format}`, async () => {
        const result = await gateway.client().images.generate({
          model: 'gpt-image-1',
          prompt: 'a desert at noon',
          output_format: format,
          quality: 'low',
          size: '1536x1024',
          ...(format === 'png' ? {} : { output_compression: 60 }),
        });
        assert.equal(result.output_format, format);
        const decoded = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
        assert.deepEqual([decoded.format, decoded.width, decoded.height], [format, 1536, 1024]);
      });
    }

    for (const format of ['png', 'webp'] as const) {
      it(`background transparent gives real alpha in ${format}`, async () => {
        const result = await gateway.client().images.generate({
          model: 'gpt-image-1.5',
          prompt: 'a sailboat on the sea',
          background: 'transparent',
          output_format: format,
          quality: 'low',
        });
        assert.equal(result.background, 'transparent');
        const bytes = Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64');
        const decoded = await decode(bytes);
        assert.equal(decoded.format, format);
        assert.ok(decoded.hasAlpha);
        const alpha = await alphaCounts(bytes);
        assert.ok(alpha.transparent > 1000, `only ${alpha.transparent} transparent pixels`);
        assert.ok(alpha.opaque > 1000, `only ${alpha.opaque} opaque pixels`);
      });
    }

    it('gpt-image-2 takes a free size and qwen-image maps 1024x1024 to its own square size', async () => {
      const client = gateway.client();
      const wide = await client.images.generate({ model: 'gpt-image-2', prompt: 'a city skyline', size: '1280x720', quality: 'low' });
      assert.equal(wide.size, '1280x720');
      const wideImage = await decode(Buffer.from(wide.data?.[0]?.b64_json ?? '', 'base64'));
      assert.deepEqual([wideImage.width, wideImage.height], [1280, 720]);
      const qwen = await client.images.generate({ model: 'qwen-image', prompt: 'mountains at dusk', size: '1024x1024' });
      const qwenImage = await decode(Buffer.from(qwen.data?.[0]?.b64_json ?? '', 'base64'));
      assert.deepEqual([qwenImage.width, qwenImage.height], [1328, 1328]);
    });

    it('the same request gives the same image (the local renderer is deterministic)', async () => {
      const client = gateway.client();
      const ask = { model: 'dall-e-2', prompt: 'a forest by a lake', size: '256x256', response_format: 'b64_json' } as const;
      const first = await client.images.generate(ask);
      const second = await client.images.generate(ask);
      assert.equal(first.data?.[0]?.b64_json, second.data?.[0]?.b64_json);
    });

    it('lists every catalog model with its capabilities and provider', async () => {
      const client = gateway.client();
      const ids: string[] = [];
      for await (const model of client.models.list()) ids.push(model.id);
      assert.deepEqual(ids.sort(), MODELS.map((m) => m.id).sort());
      const one = await client.models.retrieve('gpt-image-2');
      assert.equal(one.id, 'gpt-image-2');
      assert.equal(one.object, 'model');
      const extra = (one as unknown as { imagegate: { provider: string; n: { max: number }; output_formats: string[] } }).imagegate;
      assert.equal(extra.provider, 'local');
      assert.equal(extra.n.max, 10);
      assert.deepEqual(extra.output_formats, ['png', 'jpeg', 'webp']);
      await assert.rejects(client.models.retrieve('no-such-model'), (err: unknown) => {
        assert.equal((err as { status?: number }).status, 404);
        assert.equal((err as { code?: string }).code, 'model_not_found');
        return true;
      });
    });
  });
