import { decodeBase64Image } from './call-upstream.ts';
import { malformedResponse } from './upstream-errors.ts';

/*
 * RFC 2397 `data:` URLs, as upstreams that speak chat-completions or JSON edit APIs carry images:
 * OpenRouter answers with `data:image/png;base64,…` in `message.images[].image_url.url`, xAI takes
 * edit inputs as `data:image/jpeg;base64,…` and may put one in `b64_json` (its Python SDK splits
 * on "base64,"). Only base64 payloads are images; a percent-encoded one is refused as malformed.
 */

const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)?((?:;[^;,]*)*?);base64,/i;

/** A data URL of `bytes` with its media type, e.g. `data:image/png;base64,iVBOR…`. */
export function encodeDataUrl(bytes: Buffer, mime: string): string {
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

/** Whether `text` is a data URL (of any payload), as opposed to a link to download. */
export function isDataUrl(text: string): boolean {
  return text.slice(0, 5).toLowerCase() === 'data:';
}

/**
 * The image a base64 data URL holds: its bytes (strictly decoded), its base64 text (so a
 * `b64_json` answer can reuse it) and the media type it claims (the media step trusts magic bytes).
 */
export function decodeDataUrl(provider: string, text: string): { bytes: Buffer; base64: string; mime?: string } {
  const match = DATA_URL.exec(text.slice(0, 256));
  if (match === null) throw malformedResponse(provider, 'an image data URL is not base64');
  const base64 = text.slice(match[0].length);
  const mime = match[1]?.toLowerCase();
  return { bytes: decodeBase64Image(provider, base64), base64, ...(mime === undefined ? {} : { mime }) };
}
