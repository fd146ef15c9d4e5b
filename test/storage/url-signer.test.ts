import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { UrlSigner } from '../../src/storage/url-signer.ts';

const SECRET = Buffer.alloc(32, 0x5a);
const KEY_A = `20260101/${'a'.repeat(32)}.png`;
const KEY_B = `20260101/${'b'.repeat(32)}.png`;
const EXPIRES = 1_800_000_000;
const BEFORE = EXPIRES - 60;

function parts(url: string): { path: string; expires: string; sig: string } {
  const parsed = new URL(url);
  return {
    path: parsed.pathname,
    expires: parsed.searchParams.get('expires') ?? '',
    sig: parsed.searchParams.get('sig') ?? '',
  };
}

/** Flips one hex digit of `hex` at `index`. */
function flipDigit(hex: string, index: number): string {
  const digit = hex[index] === '0' ? '1' : '0';
  return hex.slice(0, index) + digit + hex.slice(index + 1);
}

describe('UrlSigner.sign', () => {
  it('makes an absolute link whose sig is hex HMAC-SHA256 of key and expiry', () => {
    const url = new UrlSigner(SECRET, 'https://img.example.com').sign(KEY_A, EXPIRES);
    const expectedSig = createHmac('sha256', SECRET).update(`${KEY_A}\n${EXPIRES}`).digest('hex');
    assert.equal(url, `https://img.example.com/files/${KEY_A}?expires=${EXPIRES}&sig=${expectedSig}`);
  });

  it('tolerates a trailing slash on the public base URL, and keeps a path prefix', () => {
    const signer = new UrlSigner(SECRET, 'https://example.com/imagegate/');
    assert.ok(signer.sign(KEY_A, EXPIRES).startsWith(`https://example.com/imagegate/files/${KEY_A}?`));
    assert.equal(signer.sign(KEY_A, EXPIRES), new UrlSigner(SECRET, 'https://example.com/imagegate').sign(KEY_A, EXPIRES));
  });

  it('refuses an invalid key, a bad expiry and a short secret', () => {
    const signer = new UrlSigner(SECRET, 'http://x');
    assert.throws(() => signer.sign('../etc/passwd', EXPIRES), TypeError);
    assert.throws(() => signer.sign(KEY_A, 1.5), TypeError);
    assert.throws(() => signer.sign(KEY_A, -1), TypeError);
    assert.throws(() => signer.sign(KEY_A, Number.NaN), TypeError);
    assert.throws(() => new UrlSigner(Buffer.alloc(31), 'http://x'), RangeError);
  });
});

describe('UrlSigner.verify', () => {
  const signer = new UrlSigner(SECRET, 'http://x');
  const good = parts(signer.sign(KEY_A, EXPIRES));

  it('accepts a genuine link before its expiry', () => {
    assert.equal(signer.verify(KEY_A, good.expires, good.sig, BEFORE), 'ok');
    assert.equal(signer.verify(KEY_A, good.expires, good.sig, EXPIRES - 1), 'ok');
  });

  it('says expired for a genuine link at or after its expiry', () => {
    assert.equal(signer.verify(KEY_A, good.expires, good.sig, EXPIRES), 'expired');
    assert.equal(signer.verify(KEY_A, good.expires, good.sig, EXPIRES + 86_400), 'expired');
  });

  it('says invalid, never expired, for anything tampered, even long after expiry', () => {
    for (const now of [BEFORE, EXPIRES + 86_400]) {
      // Another key (file A's signature used for file B).
      assert.equal(signer.verify(KEY_B, good.expires, good.sig, now), 'invalid');
      // A later expiry, an earlier one, and the same number spelled differently.
      assert.equal(signer.verify(KEY_A, String(EXPIRES + 3600), good.sig, now), 'invalid');
      assert.equal(signer.verify(KEY_A, String(EXPIRES - 3600), good.sig, now), 'invalid');
      assert.equal(signer.verify(KEY_A, `0${good.expires}`, good.sig, now), 'invalid');
      // One digit of the signature changed, first and last.
      assert.equal(signer.verify(KEY_A, good.expires, flipDigit(good.sig, 0), now), 'invalid');
      assert.equal(signer.verify(KEY_A, good.expires, flipDigit(good.sig, 63), now), 'invalid');
    }
  });

  it('says invalid for a signature of the wrong length or alphabet', () => {
    const wrong = [
      '',
      good.sig.slice(0, 63),
      good.sig.slice(0, 62),
      `${good.sig}00`,
      good.sig.toUpperCase(),
      Buffer.from(good.sig, 'hex').toString('base64url'),
      ` ${good.sig}`,
      `${good.sig.slice(0, 63)}g`,
    ];
    for (const sig of wrong) assert.equal(signer.verify(KEY_A, good.expires, sig, BEFORE), 'invalid', JSON.stringify(sig));
  });

  it('says invalid for an expiry that is not plain digits', () => {
    const wrong = ['', '-1', '+1800000000', '1800000000.0', '1.8e9', ' 1800000000', '1800000000 ', '0x6B49D200', 'Infinity', '9'.repeat(16), '١٨٠٠٠٠٠٠٠٠'];
    for (const expires of wrong) {
      // Even with a signature computed over exactly that text, only the canonical form is accepted.
      const sig = createHmac('sha256', SECRET).update(`${KEY_A}\n${expires}`).digest('hex');
      assert.equal(signer.verify(KEY_A, expires, sig, 0), 'invalid', JSON.stringify(expires));
    }
  });

  it('says invalid for an invalid key and for links made with another secret', () => {
    assert.equal(signer.verify('../x', good.expires, good.sig, BEFORE), 'invalid');
    const other = new UrlSigner(Buffer.alloc(32, 0x11), 'http://x');
    assert.equal(other.verify(KEY_A, good.expires, good.sig, BEFORE), 'invalid');
  });
});
