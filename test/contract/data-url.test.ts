import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDataUrl } from '../../src/contract/data-url.ts';
import { GatewayError } from '../../src/errors.ts';

describe('decodeDataUrl', () => {
  it('returns null for URLs that are not data URLs', () => {
    assert.equal(decodeDataUrl('https://example.com/a.png', 'p'), null);
  });

  it('decodes base64 and percent-encoded payloads to the same bytes, any byte value included', () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x25, 0x41]);
    const percent = [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    assert.deepEqual(decodeDataUrl(`data:image/png;base64,${bytes.toString('base64')}`, 'p'), { declaredType: 'image/png', bytes });
    assert.deepEqual(decodeDataUrl(`data:image/png,${percent}`, 'p')?.bytes, bytes);
    assert.deepEqual(decodeDataUrl('data:,a%41%42c', 'p')?.bytes, Buffer.from('aABc'));
    assert.deepEqual(decodeDataUrl('data:text/plain,é', 'p')?.bytes, Buffer.from('é', 'utf8'));
  });

  for (const bad of ['%', '%zz', '%E0%A4%A', 'abc%4', '%g0']) {
    it(`refuses the bad percent-escape in 'data:image/png,${bad}' with a 400 naming the param`, () => {
      assert.throws(
        () => decodeDataUrl(`data:image/png,${bad}`, 'images[0].image_url'),
        (err: unknown) => err instanceof GatewayError && err.status === 400 && err.param === 'images[0].image_url' && /percent-escape/.test(err.message),
      );
    });
  }
});
