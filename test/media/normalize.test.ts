import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { GatewayError } from '../../src/errors.ts';
import { normalizeImage } from '../../src/media/normalize.ts';
import type { NormalizeTarget } from '../../src/media/normalize.ts';
import { structuredPixels } from '../support/images.ts';

/** A picture with some structure (so encoders have work to do), optionally with real alpha. */
async function picture(width: number, height: number, options: { alpha?: boolean } = {}): Promise<Buffer> {
  const channels = options.alpha === true ? 4 : 3;
  // The left half is transparent.
  return sharp(structuredPixels(width, height, channels, 0), { raw: { width, height, channels } })
    .png()
    .toBuffer();
}

function target(overrides: Partial<NormalizeTarget> = {}): NormalizeTarget {
  return { format: 'png', compressionPct: 100, size: { width: 64, height: 48 }, transparent: false, ...overrides };
}

async function pixelAt(bytes: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [...data.subarray(i, i + info.channels)];
}

function isUpstreamError(err: unknown): boolean {
  return err instanceof GatewayError && err.code === 'upstream_error' && err.retryable;
}

describe('normalizeImage', () => {
  it('hands back the very same Buffer when the image already is what was asked', async () => {
    const png = await picture(64, 48);
    const result = await normalizeImage(png, target());
    assert.equal(result.bytes, png);
    assert.deepEqual({ format: result.format, width: result.width, height: result.height }, { format: 'png', width: 64, height: 48 });
  });

  it('hands back a jpeg as it is when it is already compressed at least as much as asked', async () => {
    const jpeg = await sharp(await picture(64, 48))
      .jpeg({ quality: 60 })
      .toBuffer();
    assert.equal((await normalizeImage(jpeg, target({ format: 'jpeg', compressionPct: 80 }))).bytes, jpeg);
    assert.equal((await normalizeImage(jpeg, target({ format: 'jpeg', compressionPct: 100 }))).bytes, jpeg);
  });

  it('re-encodes a jpeg much less compressed than asked', async () => {
    const jpeg = await sharp(await picture(64, 48))
      .jpeg({ quality: 98 })
      .toBuffer();
    const result = await normalizeImage(jpeg, target({ format: 'jpeg', compressionPct: 40 }));
    assert.notEqual(result.bytes, jpeg);
    assert.ok(result.bytes.length < jpeg.length, 'the re-encoded jpeg is smaller');
  });

  it('converts a CMYK jpeg to sRGB', async () => {
    const cmyk = await sharp(await picture(64, 48))
      .toColourspace('cmyk')
      .jpeg({ quality: 80 })
      .toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const result = await normalizeImage(cmyk, target({ format: 'jpeg', compressionPct: 80 }));
    assert.notEqual(result.bytes, cmyk);
    assert.equal((await sharp(result.bytes).metadata()).space, 'srgb');
  });

  it('transcodes png to jpeg, flattening transparency onto white', async () => {
    const png = await picture(64, 48, { alpha: true });
    const result = await normalizeImage(png, target({ format: 'jpeg', compressionPct: 90 }));
    const meta = await sharp(result.bytes).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.hasAlpha, false);
    assert.deepEqual([meta.width, meta.height], [64, 48]);
    const [r, g, b] = await pixelAt(result.bytes, 2, 24);
    assert.ok((r ?? 0) > 240 && (g ?? 0) > 240 && (b ?? 0) > 240, `transparent pixels are white, got ${r},${g},${b}`);
  });

  it('transcodes png to webp, keeping alpha for a transparent target', async () => {
    const png = await picture(64, 48, { alpha: true });
    const result = await normalizeImage(png, target({ format: 'webp', compressionPct: 80, transparent: true }));
    const meta = await sharp(result.bytes).metadata();
    assert.equal(result.format, 'webp');
    assert.equal(meta.format, 'webp');
    assert.equal(meta.hasAlpha, true);
    assert.equal((await pixelAt(result.bytes, 2, 24))[3], 0);
  });

  it('flattens alpha onto white when the target is opaque', async () => {
    const png = await picture(64, 48, { alpha: true });
    const result = await normalizeImage(png, target({ transparent: false }));
    assert.notEqual(result.bytes, png);
    const meta = await sharp(result.bytes).metadata();
    assert.equal(meta.hasAlpha, false);
    assert.deepEqual((await pixelAt(result.bytes, 2, 24)).slice(0, 3), [255, 255, 255]);
  });

  it('resizes to the exact size asked, covering it (cropping, not stretching or padding)', async () => {
    const png = await picture(100, 50);
    const result = await normalizeImage(png, target({ size: { width: 40, height: 40 } }));
    assert.deepEqual([result.width, result.height], [40, 40]);
    const meta = await sharp(result.bytes).metadata();
    assert.deepEqual([meta.width, meta.height], [40, 40]);
  });

  it('refuses bytes that are not an image as a retryable upstream_error', async () => {
    await assert.rejects(normalizeImage(Buffer.from('<html>502 Bad Gateway</html>'), target()), isUpstreamError);
    await assert.rejects(normalizeImage(Buffer.alloc(0), target()), isUpstreamError);
  });

  it('refuses a truncated image as a retryable upstream_error, without decoding it', async () => {
    const png = await picture(64, 48);
    await assert.rejects(normalizeImage(png.subarray(0, png.length - 40), target()), isUpstreamError);
    const jpeg = await sharp(png).jpeg().toBuffer();
    await assert.rejects(normalizeImage(jpeg.subarray(0, jpeg.length / 2), target({ format: 'jpeg' })), isUpstreamError);
  });

  it('refuses well-framed bytes whose pixel data is corrupt, once it has to decode them', async () => {
    const png = await picture(64, 48);
    // Overwrite the middle of the first IDAT chunk's data: every chunk still frames correctly.
    const idat = png.indexOf('IDAT', 0, 'latin1');
    const corrupt = Buffer.from(png);
    corrupt.fill(0x41, idat + 20, idat + 120);
    await assert.rejects(normalizeImage(corrupt, target({ format: 'jpeg' })), isUpstreamError);
  });
});
