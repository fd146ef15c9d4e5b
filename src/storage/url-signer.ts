import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidContentKey } from './content-key.ts';

/** What `verify` concluded. `expired` is only ever said of a link we really signed. */
export type SignatureCheck = 'ok' | 'expired' | 'invalid';

/** HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 §3). */
const MIN_SECRET_BYTES = 32;
/** A SHA-256 MAC written as lowercase hex: 32 bytes, 64 digits. */
const SIGNATURE_HEX = /^[0-9a-f]{64}$/;
/**
 * Expiry as the signer writes it: unix seconds, digits only, no sign, no leading zero, at most 15
 * digits so it is always a safe integer. Anything else is not a link we made.
 */
const EXPIRES_TEXT = /^(0|[1-9][0-9]{0,14})$/;

/**
 * Signed, expiring links to `GET /files/<key>`:
 * `${publicBaseUrl}/files/${key}?expires=${unixSeconds}&sig=${hex}` where
 * sig = lowercase hex of HMAC-SHA256(secret, `${key}\n${expires}`). The key grammar has no newline
 * and expires is digits only, so the signed message is unambiguous. Hex (not base64url) keeps the
 * accepted alphabet to one case-fixed form, so each link has exactly one valid spelling.
 */
export class UrlSigner {
  readonly #secret: Buffer;
  readonly #publicBaseUrl: string;

  constructor(secret: Buffer, publicBaseUrl: string) {
    if (secret.length < MIN_SECRET_BYTES) throw new RangeError(`the URL signing secret must be at least ${MIN_SECRET_BYTES} bytes`);
    // Copied so a caller reusing its buffer cannot change our key afterwards.
    this.#secret = Buffer.from(secret);
    // `https://img.example.com/` and `https://img.example.com` give the same links.
    this.#publicBaseUrl = publicBaseUrl.replace(/\/+$/, '');
  }

  /** The absolute link to `key`, valid until (not including) `expiresAtSeconds`, unix seconds. */
  sign(key: string, expiresAtSeconds: number): string {
    if (!isValidContentKey(key)) throw new TypeError('not a valid content key');
    if (!Number.isSafeInteger(expiresAtSeconds) || expiresAtSeconds < 0) {
      throw new TypeError('expiresAtSeconds must be a non-negative integer');
    }
    const expiresText = String(expiresAtSeconds);
    return `${this.#publicBaseUrl}/files/${key}?expires=${expiresText}&sig=${this.#mac(key, expiresText).toString('hex')}`;
  }

  /**
   * Checks a link's parts as they arrived. The signature is checked before the expiry so that
   * only a genuine link can learn it has expired; anything forged or altered is `invalid`.
   */
  verify(key: string, expiresText: string, sigText: string, nowSeconds: number): SignatureCheck {
    if (!isValidContentKey(key) || !EXPIRES_TEXT.test(expiresText) || !SIGNATURE_HEX.test(sigText)) return 'invalid';
    const expected = this.#mac(key, expiresText);
    const given = Buffer.from(sigText, 'hex');
    // timingSafeEqual throws on unequal lengths; the pattern above already fixes it at 32 bytes.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return nowSeconds < Number(expiresText) ? 'ok' : 'expired';
  }

  #mac(key: string, expiresText: string): Buffer {
    return createHmac('sha256', this.#secret).update(`${key}\n${expiresText}`).digest();
  }
}
