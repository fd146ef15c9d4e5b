import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
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

/** POST /v1/images/edits end to end over a real socket, with the official `openai` client. */

/** The test gateway, with the id of its user key (for ledger checks). */
type EditGateway = TestGateway & { readonly keyId: string };

async function startEditGateway(env: Record<string, string> = {}): Promise<EditGateway> {
  const gateway = await startGateway(env);
  const row = (await gateway.deps.keys.list('user'))[0];
  return { ...gateway, keyId: row?.id ?? '' };
}

/** A mask: fully transparent (to edit) left of `editWidth`, opaque elsewhere. */
async function leftMask(width: number, height: number, editWidth: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4, 255);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < editWidth; x += 1) data[(y * width + x) * 4 + 3] = 0;
  return sharp(data, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

async function rgb(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Pixels of `a` and `b` (same size, RGB) that differ, left and right of column `split`. */
function differing(a: Buffer, b: Buffer, width: number, split: number): { left: number; right: number } {
  let left = 0;
  let right = 0;
  for (let p = 0; p < a.length / 3; p += 1) {
    const i = p * 3;
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) {
      if (p % width < split) left += 1;
      else right += 1;
    }
  }
  return { left, right };
}

/** Pearson correlation of the luminance of two same-size RGB images. */
function lumaCorrelation(a: Buffer, b: Buffer): number {
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  const n = a.length / 3;
  for (let i = 0; i < a.length; i += 3) {
    const la = 0.3 * (a[i] ?? 0) + 0.59 * (a[i + 1] ?? 0) + 0.11 * (a[i + 2] ?? 0);
    const lb = 0.3 * (b[i] ?? 0) + 0.59 * (b[i + 1] ?? 0) + 0.11 * (b[i + 2] ?? 0);
    sa += la;
    sb += lb;
    saa += la * la;
    sbb += lb * lb;
    sab += la * lb;
  }
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

function b64(item: { b64_json?: string | undefined } | undefined): Buffer {
  assert.ok(item?.b64_json !== undefined, 'expected b64_json');
  return Buffer.from(item.b64_json, 'base64');
}

async function expectError(promise: Promise<unknown>, status: number, param: string | null, code?: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.param ?? null, param, err.message);
    if (code !== undefined) assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** A raw multipart POST (for what the SDK will not send). */
async function postForm(
  gateway: EditGateway,
  route: string,
  form: FormData,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${gateway.baseUrl}/v1/images/${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.key}`, ...headers },
    body: form,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

async function postJson(gateway: EditGateway, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${gateway.baseUrl}/v1/images/edits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function errorOf(json: Record<string, unknown>): { code: unknown; param: unknown; message: string } {
  const error = json['error'] as { code?: unknown; param?: unknown; message?: unknown } | undefined;
  return { code: error?.code, param: error?.param, message: String(error?.message) };
}

describe('POST /v1/images/edits on the local renderer', () => {
  let gateway: EditGateway;
  let dir: string;
  let photo: Buffer;
  let photoPath: string;
  let mask: Buffer;
  let maskPath: string;
  before(async () => {
    gateway = await startEditGateway();
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-edit-files-'));
    photo = await fakePng(1024, 1024, 3);
    photoPath = path.join(dir, 'photo.png');
    writeFileSync(photoPath, photo);
    mask = await leftMask(1024, 1024, 400);
    maskPath = path.join(dir, 'mask.png');
    writeFileSync(maskPath, mask);
  });
  after(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('edits a file from fs.createReadStream with a mask: new pixels where the mask is clear, the original bit for bit elsewhere', async () => {
    const { data: result, response } = await gateway
      .client()
      .images.edit({ image: createReadStream(photoPath), mask: createReadStream(maskPath), prompt: 'a red sunset over the sea', quality: 'low' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'local');
    assert.ok(Number(response.headers.get('x-imagegate-cost-usd')) > 0);
    assert.equal(result.data?.length, 1);
    const out = b64(result.data?.[0]);
    const decoded = await decode(out);
    assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 1024, 1024]);
    // gpt-image-1.5 is the default edit model: GPT image fields and usage, input image counted.
    assert.equal(result.size, '1024x1024');
    assert.equal(result.output_format, 'png');
    assert.equal(result.quality, 'low');
    assert.equal(result.usage?.input_tokens_details.image_tokens, 765);
    assert.equal(result.usage?.total_tokens, (result.usage?.input_tokens ?? 0) + (result.usage?.output_tokens ?? 0));
    const before = await rgb(photo);
    const edited = await rgb(out);
    const changed = differing(before.data, edited.data, 1024, 400);
    assert.equal(changed.right, 0, 'outside the mask every pixel is the original');
    assert.ok(changed.left > 400 * 1024 * 0.5, `inside the mask most pixels are new (${changed.left})`);
  });

  it('edits several images given with toFile (png, jpeg, webp) and a mask; n=2 gives two different edits; charges what it delivered', async () => {
    const second = await sharp(await fakePng(640, 480, 9))
      .jpeg()
      .toBuffer();
    const third = await sharp(await fakePng(512, 512, 20))
      .webp()
      .toBuffer();
    const { data: result, response } = await gateway
      .client()
      .images.edit({
        model: 'gpt-image-1',
        image: [
          await toFile(photo, 'photo.png', { type: 'image/png' }),
          await toFile(second, 'second.jpg', { type: 'image/jpeg' }),
          await toFile(third, 'third.webp'),
        ],
        mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
        prompt: 'mountains and a lake at night',
        n: 2,
        quality: 'low',
      })
      .withResponse();
    assert.equal(result.data?.length, 2);
    // 1024x1024: 85 + 4 tiles; 640x480: 85 + 2 tiles; 512x512: 85 + 1 tile (170 tokens a tile).
    assert.equal(result.usage?.input_tokens_details.image_tokens, 765 + 425 + 255);
    const before = await rgb(photo);
    const outs = await Promise.all((result.data ?? []).map(async (item) => rgb(b64(item))));
    for (const out of outs) {
      const changed = differing(before.data, out.data, 1024, 400);
      assert.equal(changed.right, 0);
      assert.ok(changed.left > 400 * 1024 * 0.5);
    }
    const [a, b] = outs;
    assert.ok(a !== undefined && b !== undefined);
    assert.ok(differing(a.data, b.data, 1024, 400).left > 1000, 'the two edits differ');
    const requestId = response.headers.get('x-request-id');
    const entries = (await gateway.deps.ledger.entries(gateway.keyId)).filter((entry) => entry.request_id === requestId);
    const charge = entries.find((entry) => entry.kind === 'charge');
    assert.equal(charge?.image_count, 2);
    assert.equal((charge?.amount_micro_usd ?? 0) / 1_000_000, Number(response.headers.get('x-imagegate-cost-usd')));
  });

  it('without a mask repaints the whole picture, visibly the same picture; output_format and size are honoured', async () => {
    const result = await gateway.client().images.edit({
      image: await toFile(photo, 'photo.png'),
      prompt: 'a green forest in the morning',
      size: '1536x1024',
      output_format: 'webp',
      output_compression: 80,
      quality: 'low',
    });
    const out = b64(result.data?.[0]);
    const decoded = await decode(out);
    assert.deepEqual([decoded.format, decoded.width, decoded.height], ['webp', 1536, 1024]);
    assert.equal(result.size, '1536x1024');
    const original = await rgb(await sharp(photo).resize(1536, 1024, { fit: 'cover' }).png().toBuffer());
    const edited = await rgb(out);
    assert.ok(lumaCorrelation(original.data, edited.data) > 0.5, 'the original shows through');
    assert.ok(differing(original.data, edited.data, 1536, 0).right > 1536 * 1024 * 0.9, 'and almost every pixel changed');
  });

  it('dall-e-2: one square PNG, url answer, no GPT fields', async () => {
    const small = await fakePng(256, 256, 1);
    const result = await gateway.client().images.edit({ model: 'dall-e-2', image: await toFile(small, 'small.png'), prompt: 'a boat', size: '256x256' });
    const url = result.data?.[0]?.url;
    assert.ok(url !== undefined);
    const fetched = await fetchImage(url);
    assert.deepEqual([fetched.format, fetched.width, fetched.height], ['png', 256, 256]);
    assert.equal(result.usage, undefined);
    assert.equal(result.output_format, undefined);
  });

  it('refuses a request without an image: 400 missing_required_parameter, param image', async () => {
    const form = new FormData();
    form.append('prompt', 'a cat');
    const { status, json } = await postForm(gateway, 'edits', form);
    assert.equal(status, 400);
    assert.deepEqual([errorOf(json).code, errorOf(json).param], ['missing_required_parameter', 'image']);
  });

  it('refuses a text file by its bytes, naming the part, in OpenAI wording', async () => {
    const notes = path.join(dir, 'notes.txt');
    writeFileSync(notes, 'not an image at all');
    await expectError(
      gateway.client().images.edit({ image: createReadStream(notes), prompt: 'a cat' }),
      400,
      'image',
      'invalid_value',
      /Invalid file 'image': unsupported mimetype \('text\/plain'\)\. Supported file formats are 'image\/jpeg', 'image\/png', and 'image\/webp'\./,
    );
    await expectError(
      gateway
        .client()
        .images.edit({ image: [await toFile(photo, 'a.png'), await toFile(Buffer.from('hello'), 'b.txt', { type: 'text/plain' })], prompt: 'a cat' }),
      400,
      'image[1]',
    );
    // A PNG sent as application/octet-stream (what the SDK does with streams) was accepted above.
  });

  it('image[N] parts keep their own names in errors', async () => {
    const form = new FormData();
    form.append('prompt', 'a cat');
    form.append('image[0]', new Blob([new Uint8Array(photo)]), 'a.png');
    form.append('image[3]', new Blob([new Uint8Array(Buffer.from('GIF89a....'))]), 'b.gif');
    const { status, json } = await postForm(gateway, 'edits', form);
    assert.equal(status, 400);
    assert.equal(errorOf(json).param, 'image[3]');
    assert.match(errorOf(json).message, /unsupported mimetype \('image\/gif'\)/);
  });

  it('refuses an oversized file with 413 (dall-e-2 takes PNGs under 4 MB)', async () => {
    const noise = Buffer.alloc(1200 * 1200 * 3);
    for (let i = 0; i < noise.length; i += 1) noise[i] = (i * 2654435761) >>> 24;
    const big = await sharp(noise, { raw: { width: 1200, height: 1200, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    assert.ok(big.length > 4 * 1024 * 1024);
    await expectError(
      gateway.client().images.edit({ model: 'dall-e-2', image: await toFile(big, 'big.png'), prompt: 'a cat' }),
      413,
      'image',
      'payload_too_large',
    );
  });

  it('refuses a mask of another size, a mask without alpha, a non-square dall-e-2 image, and a model that does not edit', async () => {
    const smallMask = await leftMask(512, 512, 100);
    await expectError(
      gateway.client().images.edit({ image: await toFile(photo, 'p.png'), mask: await toFile(smallMask, 'm.png'), prompt: 'a cat' }),
      400,
      'mask',
      'invalid_value',
      /512x512.*same dimensions.*1024x1024/,
    );
    await expectError(
      gateway.client().images.edit({ image: await toFile(photo, 'p.png'), mask: await toFile(photo, 'm.png'), prompt: 'a cat' }),
      400,
      'mask',
      'invalid_value',
      /alpha/,
    );
    await expectError(
      gateway.client().images.edit({ model: 'dall-e-2', image: await toFile(await fakePng(300, 200), 'wide.png'), prompt: 'a cat' }),
      400,
      'image',
      'invalid_value',
      /square/,
    );
    await expectError(gateway.client().images.edit({ model: 'dall-e-3', image: await toFile(photo, 'p.png'), prompt: 'a cat' }), 400, 'model', 'invalid_value');
  });

  it('refuses stream on a model that cannot stream, and coerces form numbers strictly', async () => {
    const square = await sharp(photo).resize(256, 256).png().toBuffer();
    await expectError(
      gateway.client().images.edit({ model: 'dall-e-2', image: await toFile(square, 'p.png'), prompt: 'a cat', stream: true }),
      400,
      'stream',
      'unsupported_parameter',
      /does not support streaming/,
    );
    for (const [value, code] of [
      ['two', 'invalid_type'],
      ['2.5', 'invalid_value'],
      ['11', 'invalid_value'],
    ] as const) {
      const form = new FormData();
      form.append('prompt', 'a cat');
      form.append('n', value);
      form.append('image', new Blob([new Uint8Array(photo)]), 'p.png');
      const { status, json } = await postForm(gateway, 'edits', form);
      assert.equal(status, 400, value);
      assert.deepEqual([errorOf(json).code, errorOf(json).param], [code, 'n']);
    }
    const form = new FormData();
    form.append('prompt', 'a cat');
    form.append('colour', 'red');
    form.append('image', new Blob([new Uint8Array(photo)]), 'p.png');
    const unknown = await postForm(gateway, 'edits', form);
    assert.deepEqual([unknown.status, errorOf(unknown.json).code, errorOf(unknown.json).param], [400, 'unknown_parameter', 'colour']);
  });

  it('replays a multipart request by its Idempotency-Key, and refuses the key for another form', async () => {
    const form = (prompt: string): FormData => {
      const data = new FormData();
      data.append('prompt', prompt);
      data.append('quality', 'low');
      data.append('image', new Blob([new Uint8Array(photo)]), 'p.png');
      return data;
    };
    const first = await postForm(gateway, 'edits', form('a cat'), { 'idempotency-key': 'edit-1' });
    assert.equal(first.status, 200);
    const again = await postForm(gateway, 'edits', form('a cat'), { 'idempotency-key': 'edit-1' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const other = await postForm(gateway, 'edits', form('a dog'), { 'idempotency-key': 'edit-1' });
    assert.equal(other.status, 422);
  });

  it('takes the JSON form with data URLs', async () => {
    const { status, json } = await postJson(gateway, {
      model: 'gpt-image-1-mini',
      prompt: 'a city skyline at night',
      images: [{ image_url: `data:image/png;base64,${photo.toString('base64')}` }],
      mask: { image_url: `data:image/png;base64,${mask.toString('base64')}` },
      quality: 'low',
      output_format: 'jpeg',
    });
    assert.equal(status, 200, JSON.stringify(json));
    const data = json['data'] as Array<{ b64_json?: string }>;
    const decoded = await decode(b64(data[0]));
    assert.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', 1024, 1024]);
  });

  it('JSON form: refuses image URLs into the gateway network (SSRF guard), file_id, and dall-e-2', async () => {
    const local: Server = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(photo));
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const { port } = local.address() as { port: number };
    try {
      for (const url of [`http://127.0.0.1:${port}/photo.png`, `http://localhost:${port}/photo.png`, `http://[::1]:${port}/photo.png`]) {
        const { status, json } = await postJson(gateway, { prompt: 'a cat', images: [{ image_url: url }] });
        assert.equal(status, 400, url);
        assert.deepEqual([errorOf(json).code, errorOf(json).param], ['invalid_value', 'images[0].image_url'], url);
        assert.match(errorOf(json).message, /does not fetch this URL/);
      }
    } finally {
      local.close();
    }
    const byFile = await postJson(gateway, { prompt: 'a cat', images: [{ file_id: 'file-123' }] });
    assert.equal(byFile.status, 400);
    assert.equal(errorOf(byFile.json).param, 'images[0].file_id');
    assert.match(errorOf(byFile.json).message, /file_id is not supported; send image_url/);
    const dalle = await postJson(gateway, { model: 'dall-e-2', prompt: 'a cat', images: [{ image_url: `data:image/png;base64,${photo.toString('base64')}` }] });
    assert.deepEqual([dalle.status, errorOf(dalle.json).param], [400, 'model']);
    const missing = await postJson(gateway, { prompt: 'a cat' });
    assert.deepEqual([missing.status, errorOf(missing.json).code, errorOf(missing.json).param], [400, 'missing_required_parameter', 'images']);
  });
});

describe('POST /v1/images/edits forwarded to an OpenAI upstream', () => {
  let upstream: FakeServer;
  let gateway: EditGateway;
  let dir: string;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      {
        id: 'openai',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1.5': 'gpt-image-1.5', 'dall-e-2': 'dall-e-2' },
        local: true,
        timeoutMs: 5000,
      },
    ];
    gateway = await startEditGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-edit-upstream-'));
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rebuilds the form: image[] parts with real types and names, the mask, only GPT fields; passes usage on', async () => {
    const photo = await fakePng(1024, 1024, 5);
    const photoPath = path.join(dir, 'photo.png');
    writeFileSync(photoPath, photo);
    const jpeg = await sharp(photo).jpeg().toBuffer();
    upstream.reset();
    const { data: result, response } = await gateway
      .client()
      .images.edit({
        image: [createReadStream(photoPath), await toFile(jpeg, 'x')],
        mask: await toFile(await leftMask(1024, 1024, 10), 'm.png'),
        prompt: 'a cat',
        input_fidelity: 'high',
        output_format: 'webp',
        output_compression: 70,
        quality: 'high',
      })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'openai');
    assert.equal((await decode(b64(result.data?.[0]))).format, 'webp');
    assert.equal(result.usage?.input_tokens_details.image_tokens, 646, "the upstream's usage is passed on");
    assert.equal(upstream.count('/images/edits'), 1);
    const received = upstream.received[0];
    assert.ok(received !== undefined);
    assert.equal(received.headers['authorization'], 'Bearer sk-upstream-test');
    const parts = parseMultipart(received.body, received.headers['content-type']) ?? [];
    const fields = Object.fromEntries(parts.filter((p) => p.filename === null).map((p) => [p.name, p.data.toString('utf8')]));
    assert.deepEqual(fields, {
      model: 'gpt-image-1.5',
      prompt: 'a cat',
      n: '1',
      size: '1024x1024',
      quality: 'high',
      output_format: 'webp',
      background: 'opaque',
      output_compression: '70',
      input_fidelity: 'high',
    });
    const files = parts.filter((p) => p.filename !== null).map((p) => [p.name, p.filename, p.contentType]);
    assert.deepEqual(files, [
      ['image[]', 'image-0.png', 'image/png'],
      ['image[]', 'image-1.jpg', 'image/jpeg'],
      ['mask', 'mask.png', 'image/png'],
    ]);
    assert.ok(parts.find((p) => p.name === 'image[]')?.data.equals(photo), 'the image bytes go on unchanged');
  });

  it('dall-e-2: one image part and response_format b64_json; the gateway still answers url', async () => {
    upstream.reset();
    const result = await gateway
      .client()
      .images.edit({ model: 'dall-e-2', image: await toFile(await fakePng(512, 512), 'p.png'), prompt: 'a cat', size: '512x512', n: 2 });
    assert.equal(result.data?.length, 2);
    assert.ok((result.data?.[0]?.url ?? '').startsWith(gateway.baseUrl));
    const parts = parseMultipart(upstream.received[0]?.body ?? Buffer.alloc(0), upstream.received[0]?.headers['content-type']) ?? [];
    assert.deepEqual(
      parts.map((p) => p.name),
      ['model', 'prompt', 'n', 'size', 'response_format', 'image'],
    );
  });

  it('an upstream safety refusal is a 400 content_policy_violation and costs nothing', async () => {
    upstream.reset();
    upstream.queue({ kind: 'moderation' });
    const { response } = await gateway
      .client()
      .images.edit({ image: await toFile(await fakePng(1024, 1024), 'p.png'), prompt: 'something bad' })
      .withResponse()
      .catch((err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'content_policy_violation');
        return { response: { headers: err.headers } };
      });
    const requestId = response.headers?.get('x-request-id') ?? '';
    const entries = (await gateway.deps.ledger.entries(gateway.keyId)).filter((entry) => entry.request_id === requestId);
    assert.ok(entries.some((entry) => entry.kind === 'hold'));
    assert.ok(!entries.some((entry) => entry.kind === 'charge'));
  });
});
