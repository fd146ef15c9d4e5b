import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { base64Bytes, decodeBase64, encodeBase64 } from '../../src/media/base64.ts';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('decodeBase64', () => {
  it('decodes text and its ASCII bytes alike, across many pieces', () => {
    for (const length of [1, 2, 3, 4, 100, 49_151, 49_152, 49_153, 1_128_617]) {
      const bytes = randomBytes(length);
      const text = bytes.toString('base64');
      assert.deepEqual(decodeBase64(text), bytes, `string, ${length} bytes`);
      assert.deepEqual(decodeBase64(ascii(text)), bytes, `bytes, ${length} bytes`);
    }
  });

  it('refuses what is not strict base64, wherever in the text it is', () => {
    const good = randomBytes(200_000).toString('base64');
    const at = (index: number, what: string) => good.slice(0, index) + what + good.slice(index + what.length);
    const bad = [
      '',
      'QUJ',
      'QUJD\n',
      '!!!not base64!!!',
      at(10, '*'),
      at(100_000, ' '), // in a later piece
      at(150_001, '-'), // base64url is another alphabet
      at(70_000, '='),
      `QQ==${good.slice(4)}`, // padding before the end
    ];
    for (const text of bad) {
      assert.equal(decodeBase64(text), null, JSON.stringify(text.slice(0, 12)));
      assert.equal(decodeBase64(ascii(text)), null, `${JSON.stringify(text.slice(0, 12))} as bytes`);
    }
  });

  it('decodes into the memory `allocate` gives, of exactly the decoded length', () => {
    const bytes = randomBytes(300_000);
    const target = Buffer.alloc(bytes.length);
    let asked = 0;
    const decoded = decodeBase64(ascii(bytes.toString('base64')), (size) => {
      asked = size;
      return target;
    });
    assert.equal(asked, bytes.length);
    assert.equal(decoded, target);
    assert.deepEqual(target, bytes);
  });

  it('encodes to ASCII bytes, and takes a provider’s text or bytes alike', () => {
    const bytes = randomBytes(1000);
    assert.equal(encodeBase64(bytes).toString('latin1'), bytes.toString('base64'));
    assert.deepEqual(base64Bytes(bytes.toString('base64')), encodeBase64(bytes));
    const view = encodeBase64(bytes);
    assert.equal(base64Bytes(view), view, 'bytes are passed on as they are, not copied');
  });
});
