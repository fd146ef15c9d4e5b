import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { estimateJpegQuality } from '../../src/media/jpeg-quality.ts';
import { normalizeImage } from '../../src/media/normalize.ts';
import { releaseBuffer, takeBuffer } from '../../src/providers/local/buffer-pool.ts';
import { doubleCanvas } from '../../src/providers/local/double.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import { callFor, catalog, requestFor } from '../support/channels.ts';
import { alphaCounts, decode } from '../support/images.ts';

const EXAMPLE = 'A paper boat floating on calm water at sunrise.';

/** The local channel exactly as the gateway builds it. */
const built = buildChannels([], PROVIDERS, catalog, { maxDownloadBytes: 1024, downloadTimeoutMs: 1000 });
const local = built.local;
after(() => built.close());

function generate(request: GenerationRequest, signal?: AbortSignal): Promise<ProviderResult> {
  assert.ok(local !== null, 'the gateway builds a local channel');
  return local.provider.generate(request, callFor(local, request, signal));
}

async function only(request: GenerationRequest): Promise<Buffer> {
  const { images } = await generate(request);
  assert.equal(images.length, 1);
  const image = images[0];
  assert.ok(image !== undefined);
  return image.bytes;
}

interface Pixels {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

async function pixels(bytes: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean red, green, blue over the rows from `from` to `to` (fractions of the height). */
function meanColour(image: Pixels, from: number, to: number): { r: number; g: number; b: number } {
  let r = 0;
  let g = 0;
  let b = 0;
  let count = 0;
  for (let y = Math.floor(from * image.height); y < Math.floor(to * image.height); y += 1) {
    for (let x = 0; x < image.width; x += 1) {
      const i = (y * image.width + x) * 3;
      r += image.data[i] ?? 0;
      g += image.data[i + 1] ?? 0;
      b += image.data[i + 2] ?? 0;
      count += 1;
    }
  }
  return { r: r / count, g: g / count, b: b / count };
}

/** Mean of max − min channel: how colourful a picture is. */
function meanSaturation(image: Pixels): number {
  let sum = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    const r = image.data[i] ?? 0;
    const g = image.data[i + 1] ?? 0;
    const b = image.data[i + 2] ?? 0;
    sum += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return sum / (image.data.length / 3);
}

/** Mean absolute difference between horizontal neighbours: how much fine detail there is. */
function fineDetail(image: Pixels): number {
  let sum = 0;
  for (let y = 0; y < image.height; y += 1) {
    for (let x = 1; x < image.width; x += 1) {
      const i = (y * image.width + x) * 3;
      sum += Math.abs((image.data[i] ?? 0) - (image.data[i - 3] ?? 0));
    }
  }
  return sum / (image.height * (image.width - 1));
}

/** The longest horizontal run of near-white, unsaturated (paper) pixels below row `from`. */
function longestPaperRun(image: Pixels, from: number): number {
  let longest = 0;
  for (let y = Math.floor(from * image.height); y < image.height; y += 1) {
    let run = 0;
    for (let x = 0; x < image.width; x += 1) {
      const i = (y * image.width + x) * 3;
      const r = image.data[i] ?? 0;
      const g = image.data[i + 1] ?? 0;
      const b = image.data[i + 2] ?? 0;
      const paper = Math.min(r, g, b) > 185 && Math.max(r, g, b) - Math.min(r, g, b) < 40;
      run = paper ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
  }
  return longest;
}

describe('local provider', () => {
  it('delivers exactly the requested pixel size', async () => {
    const cases: { body: Record<string, unknown>; width: number; height: number }[] = [
      { body: { model: 'dall-e-2', size: '256x256' }, width: 256, height: 256 },
      { body: { model: 'gpt-image-1', size: '1024x1024', quality: 'low' }, width: 1024, height: 1024 },
      { body: { model: 'dall-e-3', size: '1792x1024' }, width: 1792, height: 1024 },
      { body: { model: 'gpt-image-1', size: '1024x1536', quality: 'low' }, width: 1024, height: 1536 },
      { body: { model: 'gpt-image-2', size: '3840x2160', quality: 'low', output_format: 'jpeg' }, width: 3840, height: 2160 },
      { body: { model: 'gpt-image-2', size: '1024x640', quality: 'medium' }, width: 1024, height: 640 },
    ];
    for (const { body, width, height } of cases) {
      const decoded = await decode(await only(requestFor({ prompt: EXAMPLE, ...body })));
      assert.deepEqual([decoded.width, decoded.height], [width, height], JSON.stringify(body));
    }
  });

  it('delivers the exact size even when it is not a multiple of the quality’s canvas scale', async () => {
    const request = { ...requestFor({ prompt: EXAMPLE, quality: 'low' }), size: { width: 1003, height: 517 } };
    const decoded = await decode(await only(request));
    assert.deepEqual([decoded.width, decoded.height], [1003, 517]);
  });

  it('encodes png, jpeg and webp for real', async () => {
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const bytes = await only(requestFor({ prompt: EXAMPLE, quality: 'low', output_format: format }));
      const decoded = await decode(bytes);
      assert.equal(decoded.format, format);
      assert.equal(decoded.hasAlpha, false, `an opaque ${format} has no alpha channel`);
    }
  });

  it('honours output_compression for jpeg', async () => {
    const small = await only(requestFor({ prompt: EXAMPLE, quality: 'low', output_format: 'jpeg', output_compression: 20 }));
    const large = await only(requestFor({ prompt: EXAMPLE, quality: 'low', output_format: 'jpeg', output_compression: 100 }));
    assert.equal(estimateJpegQuality(small), 20);
    assert.ok(small.length * 2 < large.length, `${small.length} bytes at 20 against ${large.length} at 100`);
  });

  it('makes the sky truly transparent on a transparent background, png and webp', async () => {
    for (const format of ['png', 'webp'] as const) {
      const bytes = await only(requestFor({ prompt: EXAMPLE, quality: 'low', background: 'transparent', output_format: format }));
      const decoded = await decode(bytes);
      assert.equal(decoded.format, format);
      assert.equal(decoded.hasAlpha, true);
      const { transparent, opaque } = await alphaCounts(bytes);
      const total = decoded.width * decoded.height;
      assert.ok(transparent > total * 0.3, `${format}: the sky is see-through (${transparent} of ${total})`);
      assert.ok(opaque > total * 0.3, `${format}: the water and boat are solid (${opaque} of ${total})`);
    }
  });

  it('gives the same bytes for the same request', async () => {
    const request = requestFor({ prompt: EXAMPLE, size: '1024x1024', quality: 'medium', seed: 7 });
    assert.ok((await only(request)).equals(await only(request)));
  });

  it('gives n distinct images of the same scene', async () => {
    const { images } = await generate(requestFor({ model: 'dall-e-2', prompt: EXAMPLE, size: '256x256', n: 3 }));
    assert.equal(images.length, 3);
    const [a, b, c] = images.map((image) => image.bytes);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.ok(!a.equals(b) && !b.equals(c) && !a.equals(c));
    for (const bytes of [a, b, c]) {
      const image = await pixels(bytes);
      // Each is still the asked-for scene: a warm sky over water.
      const top = meanColour(image, 0, 0.4);
      assert.ok(top.r > top.b + 25);
    }
  });

  it('changes with the seed, and keeps the scene', async () => {
    const one = await only(requestFor({ model: 'dall-e-2', prompt: EXAMPLE, size: '256x256', seed: 1 }));
    const two = await only(requestFor({ model: 'dall-e-2', prompt: EXAMPLE, size: '256x256', seed: 2 }));
    assert.ok(!one.equals(two));
  });

  it('draws visibly different pictures for different prompts', async () => {
    const night = meanColour(await pixels(await only(requestFor({ model: 'dall-e-2', prompt: 'night city', size: '256x256' }))), 0, 1);
    const desert = meanColour(await pixels(await only(requestFor({ model: 'dall-e-2', prompt: 'desert at noon', size: '256x256' }))), 0, 1);
    const brightness = (c: { r: number; g: number; b: number }): number => (c.r + c.g + c.b) / 3;
    assert.ok(brightness(desert) - brightness(night) > 80, `desert ${JSON.stringify(desert)} against night ${JSON.stringify(night)}`);
    assert.ok(night.b > night.r + 15, 'the night is blue');
  });

  it('draws the documented example: warm sunrise sky above, water below, a paper boat on it', async () => {
    for (const seed of [1, 2, 3]) {
      const image = await pixels(await only(requestFor({ prompt: EXAMPLE, quality: 'low', seed })));
      const sky = meanColour(image, 0, 0.4);
      const water = meanColour(image, 0.75, 1);
      assert.ok(sky.r > sky.b + 25 && sky.r > sky.g, `a warm sky: ${JSON.stringify(sky)}`);
      // The water near the viewer is its own blue, with the sky's warmth reflected in it.
      assert.ok(water.b / water.r > sky.b / sky.r + 0.15 && water.b > water.g, `bluish water: ${JSON.stringify(water)}`);
      const run = longestPaperRun(image, 0.55);
      assert.ok(run > image.width * 0.1, `a paper hull on the water (${run} px of white in a row)`);
    }
  });

  it('is more saturated in the vivid style than in the natural one', async () => {
    const vivid = await pixels(await only(requestFor({ model: 'dall-e-3', prompt: EXAMPLE, style: 'vivid', seed: 4 })));
    const natural = await pixels(await only(requestFor({ model: 'dall-e-3', prompt: EXAMPLE, style: 'natural', seed: 4 })));
    assert.ok(meanSaturation(vivid) > meanSaturation(natural) * 1.4, `${meanSaturation(vivid)} against ${meanSaturation(natural)}`);
  });

  it('adds fine detail at high quality that low quality leaves out', async () => {
    const low = await pixels(await only(requestFor({ prompt: EXAMPLE, quality: 'low', seed: 5 })));
    const high = await pixels(await only(requestFor({ prompt: EXAMPLE, quality: 'high', seed: 5 })));
    assert.ok(fineDetail(high) > fineDetail(low) * 1.5, `${fineDetail(high)} against ${fineDetail(low)}`);
  });

  it('revises the prompt for dall-e-3, describing what it drew, and only there', async () => {
    const request = requestFor({ model: 'dall-e-3', prompt: EXAMPLE });
    const first = (await generate(request)).images[0]?.revisedPrompt;
    const again = (await generate(request)).images[0]?.revisedPrompt;
    assert.ok(first !== undefined);
    assert.equal(first, again);
    assert.match(first, /paper boat/);
    assert.match(first, /calm water/);
    assert.match(first, /sunrise/);
    assert.ok(first.length > EXAMPLE.length);
    const gpt = (await generate(requestFor({ prompt: EXAMPLE, quality: 'low' }))).images[0];
    assert.equal(gpt?.revisedPrompt, undefined);
  });

  it('produces what the gateway would deliver as it is: normalizing finds nothing to change', async () => {
    const cases = [
      { output_format: 'png' },
      { output_format: 'jpeg', output_compression: 55 },
      { output_format: 'webp', output_compression: 70 },
      { output_format: 'png', background: 'transparent' },
    ];
    for (const body of cases) {
      const request = requestFor({ prompt: EXAMPLE, quality: 'low', ...body });
      const bytes = await only(request);
      const normalized = await normalizeImage(bytes, {
        format: request.outputFormat,
        compressionPct: request.outputCompression,
        size: request.size,
        transparent: request.background === 'transparent',
      });
      assert.equal(normalized.bytes, bytes, JSON.stringify(body));
    }
  });

  it('stops when the call is aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away');
    controller.abort(reason);
    await assert.rejects(generate(requestFor({ prompt: EXAMPLE, quality: 'low', n: 2 }), controller.signal), (err) => err === reason);
  });

  it('renders a whole request in one call, so each image keeps its own seed', () => {
    assert.ok(local !== null);
    for (const model of catalog.all()) assert.equal(local.provider.maxImagesPerCall(model), model.maxN);
  });
});

describe('local provider internals', () => {
  /** Bilinear doubling written the slow, obvious way. */
  function referenceDouble(data: Uint8ClampedArray, width: number, height: number, channels: 3 | 4): Uint8ClampedArray {
    const out = new Uint8ClampedArray(width * 2 * height * 2 * channels);
    const at = (x: number, y: number, k: number): number =>
      data[(Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) * channels + k] ?? 0;
    for (let y = 0; y < height * 2; y += 1) {
      for (let x = 0; x < width * 2; x += 1) {
        const sx = Math.floor(x / 2);
        const sy = Math.floor(y / 2);
        const nx = x % 2 === 1 ? sx + 1 : sx - 1;
        const ny = y % 2 === 1 ? sy + 1 : sy - 1;
        for (let k = 0; k < channels; k += 1) {
          const sum = 9 * at(sx, sy, k) + 3 * at(nx, sy, k) + 3 * at(sx, ny, k) + at(nx, ny, k);
          out[(y * width * 2 + x) * channels + k] = (sum + 8) >> 4;
        }
      }
    }
    return out;
  }

  it('doubles a canvas exactly like a bilinear enlargement, at any size and channel count', () => {
    for (const [width, height, channels] of [
      [64, 48, 3],
      [5, 3, 3],
      [7, 5, 4],
      [6, 4, 4],
      [1, 1, 3],
    ] as const) {
      const data = new Uint8ClampedArray(width * height * channels).map((_, i) => (i * 7919 + 13) % 256);
      const doubled = doubleCanvas({ data, width, height, channels });
      assert.deepEqual([doubled.width, doubled.height, doubled.channels], [width * 2, height * 2, channels]);
      assert.deepEqual(doubled.data, referenceDouble(data, width, height, channels), `${width}x${height}x${channels}`);
    }
  });

  it('hands out recycled buffers zeroed', () => {
    const first = takeBuffer(4096);
    new Uint8Array(first).fill(0xab);
    releaseBuffer(first);
    const again = takeBuffer(4096);
    assert.ok(new Uint8Array(again).every((byte) => byte === 0));
  });
});
