import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { estimateJpegQuality } from '../../src/media/jpeg-quality.ts';
import { mimeOf, sniffImageFormat } from '../../src/media/sniff.ts';

const raw = { raw: { width: 16, height: 16, channels: 3 as const } };
const pixels = Buffer.alloc(16 * 16 * 3, 120);

describe('sniffImageFormat', () => {
  it('tells png, jpeg and webp by their magic bytes', async () => {
    assert.equal(sniffImageFormat(await sharp(pixels, raw).png().toBuffer()), 'png');
    assert.equal(sniffImageFormat(await sharp(pixels, raw).jpeg().toBuffer()), 'jpeg');
    assert.equal(sniffImageFormat(await sharp(pixels, raw).webp().toBuffer()), 'webp');
  });

  it('returns null for anything else', async () => {
    assert.equal(sniffImageFormat(await sharp(pixels, raw).gif().toBuffer()), null);
    assert.equal(sniffImageFormat(Buffer.from('RIFF\u0000\u0000\u0000\u0000WAVEfmt ')), null);
    assert.equal(sniffImageFormat(Buffer.from('{"error":"nope"}')), null);
    assert.equal(sniffImageFormat(Buffer.alloc(0)), null);
  });

  it('names the mime type of each format', () => {
    assert.deepEqual([mimeOf('png'), mimeOf('jpeg'), mimeOf('webp')], ['image/png', 'image/jpeg', 'image/webp']);
  });
});

describe('estimateJpegQuality', () => {
  it('reads back the quality sharp saved a jpeg with', async () => {
    for (const quality of [10, 50, 75, 90, 100]) {
      assert.equal(estimateJpegQuality(await sharp(pixels, raw).jpeg({ quality }).toBuffer()), quality);
    }
  });

  it('returns null for bytes without quantisation tables', () => {
    assert.equal(estimateJpegQuality(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), null);
  });
});
