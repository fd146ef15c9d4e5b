import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { waitUntil } from '../support/checks.ts';

/** Requests sent together: more than the gateway's 16 body-read turns, so some wait for one. */
const BURST = 40;

/** Each request's own picture: one colour per prompt number, so a picture that went astray shows. */
function colourOf(index: number): { r: number; g: number; b: number } {
  return { r: (index * 5) % 256, g: 200, b: (index * 37) % 256 };
}

/**
 * An OpenAI-shaped upstream that holds every answer until the whole burst has arrived and then
 * answers them all at once, each a different 1024x1024 PNG of about a megabyte of base64.
 */
async function startBurstUpstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const waiting: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const prompt = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { prompt?: unknown }).prompt);
      const index = Number(/image (\d+)/.exec(prompt)?.[1] ?? -1);
      waiting.push(() => {
        // Noise keeps each PNG near a megabyte, as a real picture is; the colour names the request.
        const noise = Buffer.alloc(1024 * 64 * 3);
        for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761 + index) >>> 24;
        void sharp({ create: { width: 1024, height: 1024, channels: 3, background: colourOf(index) } })
          .composite([{ input: noise, raw: { width: 1024, height: 64, channels: 3 }, top: 960, left: 0 }])
          .png({ compressionLevel: 1 })
          .toBuffer()
          .then((png) => {
            const body = JSON.stringify({
              created: 1,
              data: [{ b64_json: png.toString('base64') }],
              usage: { input_tokens: 5, input_tokens_details: { text_tokens: 5, image_tokens: 0 }, output_tokens: 272, total_tokens: 277 },
            });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
          });
      });
      if (waiting.length === BURST) for (const answer of waiting.splice(0)) answer();
      // Should fewer arrive (a limit in between), answer them anyway rather than hang the test.
      else if (waiting.length === 1) setTimeout(() => waiting.splice(0).forEach((answer) => answer()), 5000).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function centreColour(bytes: Buffer): Promise<{ r: number; g: number; b: number }> {
  const { data } = await sharp(bytes).extract({ left: 512, top: 512, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
  return { r: data[0] ?? -1, g: data[1] ?? -1, b: data[2] ?? -1 };
}

/**
 * Upstream answers are read into pooled buffers and passed on without copies, and their memory is
 * reused once an answer has been sent: a burst larger than the pool must still give every client
 * its own picture, in both response formats, and leave no turn behind.
 */
describe('a burst of answers through pooled memory', () => {
  let upstream: Awaited<ReturnType<typeof startBurstUpstream>>;
  let gateway: TestGateway;
  before(async () => {
    upstream = await startBurstUpstream();
    const channels = [
      {
        id: 'burst',
        provider: 'openai',
        baseUrl: upstream.url,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1': 'gpt-image-1' },
        local: true,
        maxConcurrency: BURST,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it(`${BURST} requests answered in the same moment each get their own image, b64_json and url alike`, async () => {
    const client = gateway.client();
    const results = await Promise.all(
      Array.from({ length: BURST }, async (_, index) => {
        const format = index % 2 === 0 ? 'b64_json' : 'url';
        const result = await client.images.generate({ model: 'gpt-image-1', prompt: `image ${index}`, quality: 'low', response_format: format });
        const item = result.data?.[0];
        assert.ok(item !== undefined);
        if (format === 'b64_json') return { index, bytes: Buffer.from(item.b64_json ?? '', 'base64') };
        const response = await fetch(item.url ?? '');
        assert.equal(response.status, 200);
        return { index, bytes: Buffer.from(await response.arrayBuffer()) };
      }),
    );
    for (const { index, bytes } of results) {
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1024, 1024]);
      assert.deepEqual(await centreColour(bytes), colourOf(index), `request ${index} got its own picture`);
    }
    // Every turn ends once its answer is sent; their buffers wait in the pool for the next burst.
    await waitUntil(() => gateway.deps.bodyReads.inUse === 0);
    assert.ok(gateway.deps.bodyReads.pooledBytes > 0, 'the buffers were kept for reuse');

    // What was stored (b64_json answers too) is each request's own picture, under its own hash.
    const rows = await gateway.deps.db.selectFrom('images').select('blob_key').execute();
    assert.equal(rows.length, BURST);
    const stored = new Set<string>();
    for (const { blob_key: key } of rows) {
      const blob = await gateway.deps.blobs.get(key);
      assert.ok(blob !== null, key);
      const bytes = await buffer(blob.stream);
      assert.equal(createHash('sha256').update(bytes).digest('hex').slice(0, 32), key.slice(9, 41), `${key} holds the bytes it is named after`);
      stored.add(JSON.stringify(await centreColour(bytes)));
    }
    assert.deepEqual(stored, new Set(results.map(({ index }) => JSON.stringify(colourOf(index)))));
  });
});
