import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { compositeOutsideMask } from '../../src/media/composite-outside-mask.ts';

/** Raw pixels of an image as displayed, with its channel count. */
async function raw(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(bytes).autoOrient().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** An RGB(A) PNG whose every pixel is given by `colour(x, y)`. */
async function png(width: number, height: number, channels: 3 | 4, colour: (x: number, y: number) => number[]): Promise<Buffer> {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) data.set(colour(x, y).slice(0, channels), (y * width + x) * channels);
  }
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}

/** A mask whose alpha is `alpha(x, y)` (0 = edit here). */
function mask(width: number, height: number, alpha: (x: number, y: number) => number): Promise<Buffer> {
  return png(width, height, 4, (x, y) => [0, 0, 0, alpha(x, y)]);
}

const originalColour = (x: number, y: number): number[] => [(x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 7) % 256, 255];

describe('compositeOutsideMask', () => {
  it('takes the edit where the mask is fully transparent and keeps every other pixel, bit for bit', async () => {
    const original = await png(8, 6, 3, originalColour);
    const edited = await png(8, 6, 3, () => [250, 10, 20]);
    // Left half alpha 0 (edit), one column half transparent (kept: only alpha 0 frees a pixel).
    const m = await mask(8, 6, (x) => (x < 4 ? 0 : x === 4 ? 128 : 255));
    const out = await compositeOutsideMask({ original, mask: m, edited });
    assert.deepEqual([out.width, out.height], [8, 6]);
    const pixels = await raw(out.bytes);
    assert.equal(pixels.channels, 3, 'an opaque original gives an opaque result');
    for (let y = 0; y < 6; y += 1) {
      for (let x = 0; x < 8; x += 1) {
        const at = (y * 8 + x) * 3;
        const got = [...pixels.data.subarray(at, at + 3)];
        assert.deepEqual(got, x < 4 ? [250, 10, 20] : originalColour(x, y).slice(0, 3), `pixel ${x},${y}`);
      }
    }
  });

  it('stretches an edit of another size over the original (no crop) and scales the mask without smoothing', async () => {
    const original = await png(12, 8, 3, originalColour);
    // The upstream drew at its own, wider size: a red band on the far left, blue elsewhere. A
    // centre crop would lose the band; stretching puts it on the original's left edge.
    const edited = await png(24, 8, 3, (x) => (x < 5 ? [220, 0, 0] : [0, 0, 220]));
    // A 3x2 mask over a 12x8 image: each mask pixel covers 4x4; only the top-left one edits.
    const m = await mask(3, 2, (x, y) => (x === 0 && y === 0 ? 0 : 255));
    const out = await compositeOutsideMask({ original, mask: m, edited });
    assert.deepEqual([out.width, out.height], [12, 8]);
    const pixels = await raw(out.bytes);
    const at = (x: number, y: number): number[] => [...pixels.data.subarray((y * 12 + x) * 3, (y * 12 + x) * 3 + 3)];
    for (let y = 0; y < 8; y += 1) {
      for (let x = 0; x < 12; x += 1) {
        if (x >= 4 || y >= 4) assert.deepEqual(at(x, y), originalColour(x, y).slice(0, 3), `kept pixel ${x},${y}`);
      }
    }
    const [r0 = 0, , b0 = 0] = at(0, 2);
    assert.ok(r0 > 150 && b0 < 60, `the band is on the left edge: ${at(0, 2).join(',')}`);
    const [r3 = 0, , b3 = 0] = at(3, 2);
    assert.ok(b3 > 150 && r3 < 60, `blue beyond it: ${at(3, 2).join(',')}`);
  });

  it("keeps the original's alpha outside the mask and the edit's inside", async () => {
    const original = await png(4, 4, 4, (x, y) => [...originalColour(x, y).slice(0, 3), x * 60 + 10]);
    const edited = await png(4, 4, 3, () => [9, 9, 9]);
    const m = await mask(4, 4, (_x, y) => (y === 0 ? 0 : 255));
    const pixels = await raw((await compositeOutsideMask({ original, mask: m, edited })).bytes);
    assert.equal(pixels.channels, 4);
    for (let y = 0; y < 4; y += 1) {
      for (let x = 0; x < 4; x += 1) {
        const at = (y * 4 + x) * 4;
        const expected = y === 0 ? [9, 9, 9, 255] : [...originalColour(x, y).slice(0, 3), x * 60 + 10];
        assert.deepEqual([...pixels.data.subarray(at, at + 4)], expected, `pixel ${x},${y}`);
      }
    }
  });

  it('works on the picture as displayed: an EXIF-rotated JPEG original keeps its decoded pixels', async () => {
    // Stored 6x4 with orientation 6 (rotate 90° clockwise): displayed 4x6, which the mask matches.
    const stored = await png(6, 4, 3, originalColour);
    const original = await sharp(stored).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
    const displayed = await raw(original);
    assert.deepEqual([displayed.width, displayed.height], [4, 6]);
    const edited = await png(4, 6, 3, () => [255, 255, 0]);
    const m = await mask(4, 6, (x) => (x === 3 ? 0 : 255));
    const out = await compositeOutsideMask({ original, mask: m, edited });
    assert.deepEqual([out.width, out.height], [4, 6]);
    const pixels = await raw(out.bytes);
    for (let p = 0; p < 24; p += 1) {
      const got = [...pixels.data.subarray(p * 3, p * 3 + 3)];
      const expected = p % 4 === 3 ? [255, 255, 0] : [...displayed.data.subarray(p * 3, p * 3 + 3)];
      assert.deepEqual(got, expected, `pixel ${p % 4},${Math.floor(p / 4)}`);
    }
  });

  it('returns the original unchanged when the mask frees nothing', async () => {
    const original = await png(5, 5, 3, originalColour);
    const out = await compositeOutsideMask({ original, mask: await mask(5, 5, () => 255), edited: await png(5, 5, 3, () => [1, 2, 3]) });
    assert.deepEqual((await raw(out.bytes)).data, (await raw(original)).data);
  });
});
