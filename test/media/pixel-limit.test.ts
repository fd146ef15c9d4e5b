import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { probeImage } from '../../src/contract/input-image.ts';
import { GatewayError } from '../../src/errors.ts';
import { normalizeImage } from '../../src/media/normalize.ts';
import { startGateway } from '../support/gateway.ts';
import { assertEnvelope } from '../support/raw-http.ts';

/** A structurally whole PNG whose header declares `width`x`height` (its pixel data is a stub). */
function pngDeclaring(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Buffer): number => {
    let crc = 0xffffffff;
    for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

describe('an image declared larger than the pixel limit says so', () => {
  const huge = pngDeclaring(10_000, 10_000);

  it('an upload: "… exceeds the 64-megapixel limit", not "could not be read"', async () => {
    await assert.rejects(
      probeImage({ param: 'image', bytes: huge, declaredType: 'image/png', filename: 'big.png' }, ['png', 'jpeg', 'webp']),
      (err: unknown) => err instanceof GatewayError && err.param === 'image' && /10000x10000 exceeds the 64-megapixel limit/.test(err.message),
    );
  });

  it('an upstream answer: the same words in the upstream error', async () => {
    await assert.rejects(
      normalizeImage(huge, { format: 'png', compressionPct: 100, size: { width: 1024, height: 1024 }, transparent: false }),
      (err: unknown) => err instanceof GatewayError && err.code === 'upstream_error' && /exceeds the 64-megapixel limit/.test(err.message),
    );
  });

  it('an edit upload end to end: a 400 naming the part', async () => {
    const gateway = await startGateway();
    try {
      const form = new FormData();
      form.append('model', 'gpt-image-1');
      form.append('prompt', 'x');
      form.append('image', new Blob([huge], { type: 'image/png' }), 'big.png');
      const response = await fetch(`${gateway.baseUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gateway.key}` }, body: form });
      assert.equal(response.status, 400);
      const { error } = assertEnvelope(await response.text());
      assert.equal(error.param, 'image');
      assert.match(error.message, /exceeds the 64-megapixel limit/);
    } finally {
      await gateway.close();
    }
  });
});
