import assert from 'node:assert/strict';
import sharp from 'sharp';

export interface Decoded {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
}

/** Decodes an image fully (not just its header) and reports what it really is. */
export async function decode(bytes: Buffer): Promise<Decoded> {
  const { info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const meta = await sharp(bytes).metadata();
  assert.ok(meta.format !== undefined, 'sharp could not tell the format');
  return { format: meta.format, width: info.width, height: info.height, hasAlpha: meta.hasAlpha === true };
}

/** Downloads a returned `url` and decodes it, checking the served Content-Type matches the bytes. */
export async function fetchImage(url: string): Promise<Decoded & { contentType: string | null; bytes: Buffer }> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url} answered ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const decoded = await decode(bytes);
  const contentType = response.headers.get('content-type');
  assert.equal(contentType, `image/${decoded.format === 'jpg' ? 'jpeg' : decoded.format}`);
  return { ...decoded, contentType, bytes };
}

/** Counts pixels with alpha 0 and alpha 255 (to tell real transparency from an unused channel). */
export async function alphaCounts(bytes: Buffer): Promise<{ transparent: number; opaque: number }> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let transparent = 0;
  let opaque = 0;
  for (let i = info.channels - 1; i < data.length; i += info.channels) {
    if (data[i] === 0) transparent += 1;
    else if (data[i] === 255) opaque += 1;
  }
  return { transparent, opaque };
}

/**
 * Raw pixels with some structure, so encoders have work to do and do not collapse the picture.
 * With 4 channels the left half has alpha `leftAlpha` and the right half is opaque.
 */
export function structuredPixels(width: number, height: number, channels: 3 | 4, leftAlpha = 0): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = (y * width + x) * channels;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (x ^ y) & 0xff;
      if (channels === 4) data[i + 3] = x < width / 2 ? leftAlpha : 255;
    }
  }
  return data;
}
