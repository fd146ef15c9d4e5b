import { z } from 'zod';
import { type AspectChoice, nearestAspect } from '../../catalog/index.ts';
import { XAI_SIZE_RULE } from '../../catalog/models/xai.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { GatewayError } from '../../errors.ts';
import { mimeOf } from '../../media/sniff.ts';
import { openaiFields } from '../openai/wire.ts';
import { type UpstreamResponse, decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { decodeDataUrl, encodeDataUrl, isDataUrl } from '../shared/data-url.ts';
import { parseLiftingBase64, restoreBase64 } from '../shared/lift-base64.ts';
import { contentPolicyError, errorForStatus, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';

/*
 * xAI's images API (provider notes §9, §11; docs.x.ai/developers/model-capabilities/images/
 * generation). OpenAI-shaped, with three differences that matter:
 * - `size`, `style` and (but for grok-imagine-image-2.0) `quality` are refused with 400
 *   "Argument not supported: size"; the picture is chosen by `aspect_ratio` and `resolution`;
 * - a blocked prompt answers HTTP 200 with `data: []`, and a picture the output moderation flagged
 *   comes back as an item with `respect_moderation: false` and no payload (vercel/ai#19168,
 *   #19185): both are refusals, never an empty success;
 * - `b64_json` may hold a data URL rather than bare base64 (xai-sdk-python splits on "base64,").
 */

/**
 * The optional OpenAI field xAI takes when the model lists it in `openaiWire` (grok-imagine-
 * image-2.0's `quality`); every other one is refused, so none is sent whatever a model lists.
 */
const XAI_OPENAI_FIELDS: ReadonlySet<string> = new Set(['quality']);

/**
 * The ratio and tier to ask for: the request's own (aspect-rule models resolve them in the
 * contract), or, for a model whose catalog rule is not xAI's, the nearest of xAI's to its size.
 */
export function xaiAspect(request: ImageParams): AspectChoice {
  const nearest = nearestAspect(XAI_SIZE_RULE, request.size);
  const own = request.aspect;
  const tier = own?.tier.toLowerCase();
  return {
    ratio: own !== null && XAI_SIZE_RULE.ratios.includes(own.ratio) ? own.ratio : nearest.ratio,
    tier: tier !== undefined && XAI_SIZE_RULE.tiers[tier] !== undefined ? tier : nearest.tier,
  };
}

/** The fields every xAI images request carries; only ones xAI documents, never `size`. */
function commonFields(request: ImageParams, upstreamModel: string): Record<string, unknown> {
  const body: Record<string, unknown> = { model: upstreamModel, prompt: request.prompt, n: request.n };
  for (const [name, value] of openaiFields(request)) if (XAI_OPENAI_FIELDS.has(name)) body[name] = value;
  // Always bytes: the gateway stores every image and answers url or b64 itself, and bytes save
  // the download of a temporary link ("URLs are temporary, so download or process promptly").
  body['response_format'] = 'b64_json';
  if (request.user !== null) body['user'] = request.user;
  return body;
}

/** `POST /images/generations`. */
export function generationBody(request: ImageParams, upstreamModel: string): Record<string, unknown> {
  const aspect = xaiAspect(request);
  return { ...commonFields(request, upstreamModel), aspect_ratio: aspect.ratio, resolution: aspect.tier };
}

/**
 * `POST /images/edits`: JSON, not multipart ("The OpenAI SDK's images.edit() method is not
 * supported ... the xAI API requires application/json"), the images as data URIs. One image goes
 * as `image` and keeps its own aspect ratio ("For image editing with a single image, the output
 * aspect ratio respects the input"); several go as `images`, where `aspect_ratio` applies.
 */
export function editBody(request: EditRequest, upstreamModel: string): Record<string, unknown> {
  const aspect = xaiAspect(request);
  const parts = request.images.map((image) => ({ type: 'image_url', url: encodeDataUrl(image.bytes, mimeOf(image.format)) }));
  const body: Record<string, unknown> = { ...commonFields(request, upstreamModel), resolution: aspect.tier };
  if (parts.length === 1) body['image'] = parts[0];
  else {
    body['images'] = parts;
    if (!request.sizeAuto) body['aspect_ratio'] = aspect.ratio;
  }
  return body;
}

const AnswerSchema = z.looseObject({
  data: z.array(
    z.looseObject({
      b64_json: z.string().nullish(),
      url: z.string().nullish(),
      revised_prompt: z.string().nullish(),
      mime_type: z.string().nullish(),
      respect_moderation: z.boolean().nullish(),
    }),
  ),
});

/** `{"error": {message, code}}` (OpenAI's shape) or `{"code": "…", "error": "text"}` (Portkey's x-ai notes). */
const ErrorSchema = z.looseObject({
  code: z.union([z.string(), z.number()]).nullish(),
  error: z.union([z.string(), z.looseObject({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish() })]).nullish(),
});

/** Words of a refusal by xAI's moderation, in an error's code or message. */
const MODERATION = /moderat|content[ _-]?polic|safety/i;

/** xAI's words for a key it does not know. */
const BAD_KEY = /(incorrect|invalid|missing) api key/i;

/** Reads an xAI answer into images, or throws the GatewayError it amounts to. */
export async function readAnswer(response: UpstreamResponse, call: ProviderCall<unknown>): Promise<ProviderResult> {
  const log = { requestId: call.requestId, channel: call.channel.id, upstreamStatus: response.status, upstreamRequestId: response.headers['x-request-id'] };
  if (response.status !== 200) {
    const error = readError(response);
    call.logger.warn({ ...log, code: error.code }, 'upstream refused');
    throw error;
  }
  const items = parseItems(response);
  if (items.length === 0) {
    call.logger.warn(log, 'upstream refused (no image in an HTTP 200)');
    throw contentPolicyError('xai', 'the upstream answered with no image (xAI returns an empty list for a blocked prompt)');
  }
  if (items.some((item) => item.respect_moderation === false)) {
    call.logger.warn(log, 'upstream refused (an image failed moderation)');
    throw contentPolicyError('xai', 'a generated image did not pass the upstream content moderation');
  }
  const images: ProviderImage[] = [];
  for (const item of items) {
    const revised = typeof item.revised_prompt === 'string' && item.revised_prompt !== '' ? { revisedPrompt: item.revised_prompt } : {};
    const mime = typeof item.mime_type === 'string' ? { mime: item.mime_type } : {};
    if (item.b64_json !== null && item.b64_json !== undefined && item.b64_json.length > 0) {
      images.push({ ...fromBase64(item.b64_json, response.scratch), ...mime, ...revised });
    } else if (typeof item.url === 'string' && item.url !== '') {
      images.push({ bytes: await call.channel.http.download(item.url, call.signal), ...mime, ...revised });
    } else {
      throw malformedResponse('xai', 'an image has neither b64_json nor url');
    }
  }
  call.logger.debug(log, 'upstream answered');
  return { images };
}

/**
 * The answer's items, their base64 lifted out of the raw bytes without a JSON pass over it
 * (shared/lift-base64.ts); when a lifted value is not an item's (the marker sat elsewhere), the
 * body is parsed as a whole.
 */
type AnswerItem = Omit<z.infer<typeof AnswerSchema>['data'][number], 'b64_json'> & { readonly b64_json?: string | Buffer | null | undefined };

function parseItems(response: UpstreamResponse): readonly AnswerItem[] {
  const lifted = parseLiftingBase64(response.body);
  if (lifted !== null) {
    const answer = parseWire('xai', AnswerSchema, lifted.json, 'the images answer');
    const used = new Set<number>();
    const items = answer.data.map((item) => ({ ...item, b64_json: restoreBase64(item.b64_json, lifted.base64, used) ?? null }));
    if (used.size === lifted.base64.length) return items;
  }
  return parseWire('xai', AnswerSchema, parseJson('xai', response.text), 'the images answer').data;
}

function fromBase64(text: string | Buffer, allocate?: (bytes: number) => Buffer): { bytes: Buffer; base64: string | Buffer; mime?: string } {
  // A data URL is a few bytes of prefix before the base64; as bytes it is read as text (rare).
  const asText = typeof text === 'string' ? text : text.toString('latin1', 0, Math.min(text.length, 5));
  if (isDataUrl(asText)) return decodeDataUrl('xai', typeof text === 'string' ? text : text.toString('latin1'));
  return { bytes: decodeBase64Image('xai', text, allocate), base64: text };
}

/** An error answer: moderation → refusal, everything else by its status. */
function readError(response: UpstreamResponse): GatewayError {
  let json: unknown;
  try {
    json = JSON.parse(response.text);
  } catch {
    // Not JSON (a proxy's page, a cut body): the status decides.
  }
  const parsed = ErrorSchema.safeParse(json);
  let message = `HTTP ${response.status}`;
  let code = '';
  if (parsed.success) {
    const { error } = parsed.data;
    if (typeof error === 'string' && error !== '') message = error;
    else if (typeof error === 'object' && error !== null) {
      if (typeof error.message === 'string' && error.message !== '') message = error.message;
      if (error.code !== undefined && error.code !== null) code = String(error.code);
    }
    if (code === '' && parsed.data.code !== undefined && parsed.data.code !== null) code = String(parsed.data.code);
  }
  // Some xAI messages come percent-encoded ("Incorrect%20API%20key%20provided", beeai-framework#447).
  const words = message.replaceAll('%20', ' ');
  // xAI refuses a wrong key with 400 "Incorrect API key provided: xa***z." (continuedev/continue
  // #10778 and others): the operator's problem, never the client's.
  if (response.status === 400 && BAD_KEY.test(words)) return errorForStatus('xai', 401, response.headers, words);
  // xAI documents no moderation error code; a 4xx whose words say moderation is one (a 401 or
  // 429 never is).
  const clientError = response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 429;
  if (clientError && (MODERATION.test(words) || MODERATION.test(code))) return contentPolicyError('xai', words);
  return errorForStatus('xai', response.status, response.headers, words);
}
