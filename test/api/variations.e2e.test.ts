import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { fakePng } from '../fakes/fake-images.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { parseMultipart, startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';

/** POST /v1/images/variations end to end over a real socket, with the official `openai` client. */

/** The test gateway, with the id of its user key (for ledger checks). */
type VariationGateway = TestGateway & { readonly keyId: string };

async function startVariationGateway(env: Record<string, string> = {}): Promise<VariationGateway> {
  const gateway = await startGateway(env);
  const row = (await gateway.deps.keys.list('user'))[0];
  return { ...gateway, keyId: row?.id ?? '' };
}

async function expectError(promise: Promise<unknown>, status: number, param: string | null, code?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.param ?? null, param, err.message);
    if (code !== undefined) assert.equal(err.code, code, err.message);
    return true;
  });
}

async function rgb(bytes: Buffer, size: number): Promise<Buffer> {
  return sharp(bytes).resize(size, size).removeAlpha().raw().toBuffer();
}

/** Mean absolute difference of two RGB buffers, 0–255. */
function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** Mean RGB inside a centred disc of radius 0.8 r and outside 1.2 r. */
function regionMeans(data: Buffer, size: number, radius: number): { inside: number[]; outside: number[] } {
  const inside = [0, 0, 0, 0];
  const outside = [0, 0, 0, 0];
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const distance = Math.hypot(x + 0.5 - size / 2, y + 0.5 - size / 2);
      const target = distance < radius * 0.8 ? inside : distance > radius * 1.2 ? outside : null;
      if (target === null) continue;
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c += 1) target[c] = (target[c] ?? 0) + (data[i + c] ?? 0);
      target[3] = (target[3] ?? 0) + 1;
    }
  }
  const mean = (sums: number[]): number[] => sums.slice(0, 3).map((sum) => sum / (sums[3] ?? 1));
  return { inside: mean(inside), outside: mean(outside) };
}

/** A picture with strong shapes, so "related" is measurable. */
async function shapes(size: number): Promise<Buffer> {
  const svg = `<svg width="${size}" height="${size}" xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="#3a6"/><circle cx="${size / 2}" cy="${size / 2}" r="${size / 3}" fill="#e33"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe('POST /v1/images/variations on the local renderer', () => {
  let gateway: VariationGateway;
  let dir: string;
  let input: Buffer;
  before(async () => {
    gateway = await startVariationGateway();
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-variation-files-'));
    input = await shapes(512);
  });
  after(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('n=3 variations from fs.createReadStream: the asked size, distinct, each visibly related to the input', async () => {
    const file = path.join(dir, 'input.png');
    writeFileSync(file, input);
    const { data: result, response } = await gateway
      .client()
      .images.createVariation({ image: createReadStream(file), n: 3, size: '256x256', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'local');
    assert.equal(result.data?.length, 3);
    const outs = await Promise.all(
      (result.data ?? []).map(async (item) => {
        const bytes = Buffer.from(item.b64_json ?? '', 'base64');
        const decoded = await decode(bytes);
        assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 256, 256]);
        return rgb(bytes, 256);
      }),
    );
    const source = await rgb(input, 256);
    for (const out of outs) {
      assert.ok(meanDifference(out, source) > 5, 'a variation is not the input');
      // Related: the input's red circle on green is still a disc of one colour on another.
      const { inside, outside } = regionMeans(out, 256, 256 / 3);
      const contrast = inside.reduce((sum, value, c) => sum + Math.abs(value - (outside[c] ?? 0)), 0);
      assert.ok(contrast > 60, `the circle shows (${contrast.toFixed(0)})`);
    }
    const [a, b, c] = outs;
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.ok(meanDifference(a, b) > 3 && meanDifference(b, c) > 3 && meanDifference(a, c) > 3, 'the variations differ');
  });

  it('defaults to dall-e-2, 1024x1024 and a url', async () => {
    const result = await gateway.client().images.createVariation({ image: await toFile(input, 'input.png') });
    const url = result.data?.[0]?.url;
    assert.ok(url !== undefined);
    const fetched = await fetchImage(url);
    assert.deepEqual([fetched.format, fetched.width, fetched.height], ['png', 1024, 1024]);
  });

  it('refuses other models, non-square or non-PNG images, a missing image, bad n and size', async () => {
    const client = gateway.client();
    await expectError(client.images.createVariation({ model: 'gpt-image-1', image: await toFile(input, 'i.png') }), 400, 'model', 'invalid_value');
    await expectError(client.images.createVariation({ image: await toFile(await fakePng(300, 200), 'wide.png') }), 400, 'image', 'invalid_value');
    await expectError(client.images.createVariation({ image: await toFile(await sharp(input).jpeg().toBuffer(), 'i.jpg') }), 400, 'image', 'invalid_value');
    await expectError(client.images.createVariation({ image: await toFile(input, 'i.png'), n: 11 }), 400, 'n', 'invalid_value');
    await expectError(client.images.createVariation({ image: await toFile(input, 'i.png'), size: '1536x1024' as '1024x1024' }), 400, 'size', 'invalid_value');
    const form = new FormData();
    form.append('n', '2');
    const gatewayUrl = `${gateway.baseUrl}/v1/images/variations`;
    const key = (client as unknown as { apiKey: string }).apiKey;
    const missing = await fetch(gatewayUrl, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { error: { param: string } }).error.param, 'image');
    const json = await fetch(gatewayUrl, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
  });

  it('refuses a file over 4 MB with 413 while reading it', async () => {
    const noise = Buffer.alloc(1200 * 1200 * 3);
    for (let i = 0; i < noise.length; i += 1) noise[i] = (i * 2654435761) >>> 24;
    const big = await sharp(noise, { raw: { width: 1200, height: 1200, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    await expectError(gateway.client().images.createVariation({ image: await toFile(big, 'big.png') }), 413, 'image', 'payload_too_large');
  });
});

describe('POST /v1/images/variations forwarded to an OpenAI upstream', () => {
  let upstream: FakeServer;
  let gateway: VariationGateway;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      {
        id: 'openai',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'dall-e-2': 'dall-e-2' },
        local: true,
        timeoutMs: 5000,
      },
    ];
    gateway = await startVariationGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('sends model, n, size, response_format b64_json and the image as image/png', async () => {
    const input = await shapes(256);
    const result = await gateway.client().images.createVariation({ image: await toFile(input, 'x.bin'), n: 2, size: '512x512', user: 'u-1' });
    assert.equal(result.data?.length, 2);
    assert.equal((await fetchImage(result.data?.[0]?.url ?? '')).width, 512);
    const received = upstream.received[0];
    assert.ok(received !== undefined);
    assert.equal(received.path, '/v1/images/variations');
    const parts = parseMultipart(received.body, received.headers['content-type']) ?? [];
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename === null ? p.data.toString('utf8') : `${p.filename} ${p.contentType}`]),
      [
        ['model', 'dall-e-2'],
        ['n', '2'],
        ['size', '512x512'],
        ['response_format', 'b64_json'],
        ['user', 'u-1'],
        ['image', 'image.png image/png'],
      ],
    );
  });
});
