import type { UrlSigner } from '../storage/url-signer.ts';

const LINK = /"url":"[^"]*\/files\/(\d{8}\/[0-9a-f]{32}\.(?:png|jpeg|webp))\?expires=\d+&sig=[0-9a-f]+"/g;

/**
 * Re-signs the gateway's own `/files` links in a stored response body, so an answer replayed or
 * fetched later (idempotent replay, async job result) carries links that work for a full
 * lifetime again instead of ones that expired an hour after the first answer.
 */
export function refreshLinks(body: string, signer: UrlSigner, expiresAtSeconds: number): string {
  return body.replace(LINK, (_match, key: string) => `"url":"${signer.sign(key, expiresAtSeconds)}"`);
}
