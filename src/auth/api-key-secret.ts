import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys look like OpenAI's (`sk-…`) so tools that check the shape accept them. */
const KEY_PREFIX = 'sk-ig-';
const DISPLAY_PREFIX_CHARS = 12;

export interface NewKeySecret {
  readonly plaintext: string;
  readonly hash: string;
  readonly displayPrefix: string;
}

/** A fresh key: 32 random bytes. Only its hash is stored; the plaintext is shown once. */
export function generateKeySecret(): NewKeySecret {
  const plaintext = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { plaintext, hash: hashKey(plaintext), displayPrefix: `${plaintext.slice(0, DISPLAY_PREFIX_CHARS)}…` };
}

export function hashKey(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes of equal length. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
