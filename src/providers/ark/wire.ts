import { z } from 'zod';
import { type Dimensions, formatSize } from '../../catalog/index.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { type UpstreamResponse, decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { parseLiftingBase64, restoreBase64 } from '../shared/lift-base64.ts';
import { malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ArkOptions } from './options.ts';

/**
 * Most pictures one Ark request may involve: "输入的参考图数量+最终生成的图片数量≤15张" (reference
 * images plus generated images ≤ 15; `max_images` takes 1–15; image generation API reference,
 * docs/82379/1541523).
 */
export const MAX_PICTURES_PER_REQUEST = 15;

/** What one Ark call asks for: the prompt, the exact size, how many images, and references. */
export interface ArkAsk {
  readonly prompt: string;
  readonly size: Dimensions;
  /** 1: a single image (`sequential_image_generation: "disabled"`); more: a set of at most this many. */
  readonly maxImages: number;
  readonly references: readonly InputImage[];
}

/**
 * The request body of `POST /images/generations` (docs/82379/1541523), with only the fields
 * Seedream 4.0/4.5/5.0 take: never `n` (Ark has none), `seed` and `guidance_scale` (Seedream 3.0
 * only), `quality`, `style` or `user`; never `stream` (the gateway answers streams itself) nor
 * `output_format` (5.0-lite only; the gateway transcodes the JPEG Ark draws instead).
 * `size` is always exact pixels ("方式 2"): the tiers of "方式 1" (`2K`, `4K`) let the model pick
 * the aspect ratio from the prompt's wording, which an OpenAI request cannot say.
 */
export function arkBody(ask: ArkAsk, upstreamModel: string, options: ArkOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: upstreamModel,
    prompt: ask.prompt,
    size: formatSize(ask.size),
    response_format: options.responseFormat,
    watermark: options.watermark,
  };
  // One reference as a string, several as an array, as the reference's examples send them.
  const [only, ...others] = ask.references;
  if (only !== undefined) body['image'] = others.length === 0 ? dataUrl(only) : ask.references.map(dataUrl);
  if (ask.maxImages > 1) {
    body['sequential_image_generation'] = 'auto';
    body['sequential_image_generation_options'] = { max_images: ask.maxImages };
  } else {
    // Ark's default, said out loud: a single image whatever the prompt describes.
    body['sequential_image_generation'] = 'disabled';
  }
  return body;
}

/**
 * A reference image as Ark takes it inline: `data:image/<format>;base64,<data>`, the format in
 * lower case ("注意 <图片格式> 需小写"). The gateway already holds the bytes (multipart files, and
 * JSON edits' `image_url`s it downloaded itself), so nothing is handed to Ark to fetch.
 */
function dataUrl(image: InputImage): string {
  return `data:image/${image.format};base64,${image.bytes.toString('base64')}`;
}

const ErrorSchema = z.looseObject({ code: z.string().nullish(), message: z.string().nullish() });

/**
 * Ark's answer (docs/82379/1541523): `data[]` holds, per picture, either `{url | b64_json, size}`
 * or `{error: {code, message}}` for one that failed; `usage.generated_images` counts the pictures
 * made (and billed); a top-level `error` may stand in for the whole answer.
 */
const AnswerSchema = z.looseObject({
  model: z.string().nullish(),
  created: z.number().nullish(),
  data: z
    .array(
      z.looseObject({
        url: z.string().nullish(),
        b64_json: z.string().nullish(),
        size: z.string().nullish(),
        error: ErrorSchema.nullish(),
      }),
    )
    .nullish(),
  usage: z.looseObject({ generated_images: z.number().int().min(0).nullish(), output_tokens: z.number().nullish() }).nullish(),
  error: ErrorSchema.nullish(),
});

/** Ark's error body, read on a best-effort basis (a proxy's HTML page leaves the status to decide). */
const ErrorBodySchema = z.looseObject({ error: ErrorSchema });

/** One picture of an answer: an image to fetch or decode, or the error it failed with. */
export type ArkPicture =
  | { readonly kind: 'b64'; readonly base64: string | Buffer; readonly size: Dimensions | null }
  | { readonly kind: 'url'; readonly url: string; readonly size: Dimensions | null }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

export interface ArkAnswer {
  /** Set when the whole answer is an error (a top-level `error` in an HTTP 200). */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly pictures: readonly ArkPicture[];
  /** What Ark says it made and bills for; null when it does not say. */
  readonly generatedImages: number | null;
}

/**
 * Parses a 200 answer. Base64 is lifted out of the raw bytes before the JSON parser runs (a 4K
 * JPEG is several megabytes of it; shared/lift-base64.ts), then put back per picture.
 */
export function readAnswer(response: UpstreamResponse): ArkAnswer {
  const lifted = parseLiftingBase64(response.body);
  const answer = parseWire('ark', AnswerSchema, lifted === null ? parseJson('ark', response.text) : lifted.json, 'the images answer');
  const liftedValues = lifted?.base64 ?? [];
  const used = new Set<number>();
  const items = (answer.data ?? []).map((item) => ({ ...item, b64_json: restoreBase64(item.b64_json, liftedValues, used) }));
  // A lifted value that was not a picture's `b64_json` (the marker sat elsewhere): parse it all.
  if (used.size !== liftedValues.length) return readAnswer({ ...response, body: Buffer.alloc(0) });

  const topError = answer.error ?? null;
  if (topError !== null && (topError.code ?? '') !== '') {
    return { error: { code: topError.code ?? '', message: topError.message ?? '' }, pictures: [], generatedImages: null };
  }
  if (answer.data === undefined || answer.data === null) throw malformedResponse('ark', "the answer has neither 'data' nor 'error'");
  const pictures = items.map((item): ArkPicture => {
    const size = readSize(item.size);
    if (item.b64_json !== null && item.b64_json !== undefined && item.b64_json.length > 0) return { kind: 'b64', base64: item.b64_json, size };
    if (typeof item.url === 'string' && item.url !== '') return { kind: 'url', url: item.url, size };
    if (item.error !== undefined && item.error !== null) return { kind: 'error', code: item.error.code ?? '', message: item.error.message ?? '' };
    throw malformedResponse('ark', 'an item of data has neither an image nor an error');
  });
  return { error: null, pictures, generatedImages: answer.usage?.generated_images ?? null };
}

/** Decodes a picture's base64 strictly (garbage is a retryable malformed answer). */
export function decodePicture(base64: string | Buffer): Buffer {
  return decodeBase64Image('ark', base64);
}

/** Reads an error answer's `{code, message}`; empty when the body is not Ark's shape. */
export function readErrorBody(response: UpstreamResponse): { code: string; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(response.text);
  } catch {
    return { code: '', message: '' };
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (!parsed.success) return { code: '', message: '' };
  return { code: parsed.data.error.code ?? '', message: parsed.data.error.message ?? '' };
}

/** Largest edge a Seedream picture can have: 16,777,216 pixels at a ratio of 16 (docs/82379/1541523). */
const MAX_EDGE_PX = 16_384;
const MAX_PIXELS = 16_777_216;

/**
 * `data[].size`, "<宽像素>x<高像素>" (the reference's own example writes `2048×2048`, so the
 * multiplication sign is read too). A claim outside what Seedream can draw is no claim: the
 * media step would otherwise resize to it.
 */
function readSize(text: string | null | undefined): Dimensions | null {
  if (typeof text !== 'string') return null;
  const match = /^\s*(\d{1,5})\s*[x×X*]\s*(\d{1,5})\s*$/.exec(text);
  if (match === null) return null;
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width < 1 || height < 1 || width > MAX_EDGE_PX || height > MAX_EDGE_PX || width * height > MAX_PIXELS) return null;
  return { width, height };
}
