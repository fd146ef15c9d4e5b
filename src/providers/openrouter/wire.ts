import { z } from 'zod';
import { type AspectChoice, nearestAspect, type SizeRule } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { mimeOf } from '../../media/sniff.ts';
import { type UpstreamResponse, parseJson } from '../shared/call-upstream.ts';
import { decodeDataUrl, encodeDataUrl, isDataUrl } from '../shared/data-url.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { ErrorObjectSchema, openrouterError, readErrorBody } from './errors.ts';
import type { OpenRouterOptions } from './options.ts';

/*
 * Image models through OpenRouter's chat completions (openrouter.ai/docs, "Image Generation";
 * provider notes §11): the prompt is a user message, `modalities` asks for images, and the
 * pictures come back in `choices[].message.images[].image_url.url` as base64 data URLs.
 */

/**
 * The aspect ratios OpenRouter's image guide lists for `image_config.aspect_ratio` (Gemini's set);
 * "providers clamp to their supported subset" of the wider enum in its SDKs.
 */
const OPENROUTER_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const OPENROUTER_RULE: Extract<SizeRule, { kind: 'aspect' }> = {
  kind: 'aspect',
  ratios: OPENROUTER_RATIOS,
  tiers: { '1K': 1024 },
  defaultRatio: '1:1',
  defaultTier: '1K',
  multipleOf: 16,
};

/**
 * `image_config`: the request's own ratio for aspect-rule models (and `image_size` when the
 * model has tiers to choose from: 1K/2K/4K, Gemini only per OpenRouter's guide), or the nearest
 * listed ratio to the size asked of any other model (the media step then fits the picture to it).
 */
export function imageConfig(request: ImageParams): Record<string, string> {
  const rule = request.model.size;
  const aspect: AspectChoice | null = rule.kind === 'aspect' ? request.aspect : null;
  if (aspect === null || rule.kind !== 'aspect') return { aspect_ratio: nearestAspect(OPENROUTER_RULE, request.size).ratio };
  const config: Record<string, string> = { aspect_ratio: aspect.ratio };
  if (Object.keys(rule.tiers).length > 1) config['image_size'] = aspect.tier.toUpperCase();
  return config;
}

/** The chat completion that asks for one picture (and, for edits, shows the images to start from). */
export function chatBody(request: ImageParams, upstreamModel: string, options: OpenRouterOptions, images: readonly InputImage[] = []): Record<string, unknown> {
  const content =
    images.length === 0
      ? request.prompt
      : [
          { type: 'text', text: request.prompt },
          ...images.map((image) => ({ type: 'image_url', image_url: { url: encodeDataUrl(image.bytes, mimeOf(image.format)) } })),
        ];
  const body: Record<string, unknown> = {
    model: upstreamModel,
    messages: [{ role: 'user', content }],
    modalities: options.modalities,
    stream: false,
  };
  if (options.imageConfig) body['image_config'] = imageConfig(request);
  // `seed` and `user` are chat-completions parameters OpenRouter passes to providers that take
  // them and drops for the others.
  if (request.seed !== null) body['seed'] = request.seed;
  if (request.user !== null) body['user'] = request.user;
  return body;
}

const ChoiceSchema = z.looseObject({
  finish_reason: z.string().nullish(),
  native_finish_reason: z.string().nullish(),
  error: ErrorObjectSchema.nullish(),
  message: z
    .looseObject({
      content: z.unknown().optional(),
      refusal: z.string().nullish(),
      images: z.array(z.looseObject({ type: z.string().optional(), image_url: z.looseObject({ url: z.string().min(1) }) })).nullish(),
    })
    .nullish(),
});

const CompletionSchema = z.looseObject({
  id: z.string().optional(),
  // Errors after the model started answering come as HTTP 200 with `error` in the body
  // (openrouter.ai/docs, "Errors and Debugging").
  error: ErrorObjectSchema.nullish(),
  choices: z.array(ChoiceSchema).optional(),
});

/**
 * Gemini's reasons for ending without a picture, as OpenRouter passes them in
 * `native_finish_reason` (provider notes §3b, §11: js-genai FinishReason, litellm PR#29125).
 */
const NATIVE_REFUSALS = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
  'IMAGE_OTHER',
  'NO_IMAGE',
]);

/** Reads a chat completion into its pictures, or throws the GatewayError it amounts to. */
export async function readCompletion(response: UpstreamResponse, call: ProviderCall<OpenRouterOptions>, wanted: number): Promise<ProviderResult> {
  const log = { requestId: call.requestId, channel: call.channel.id, upstreamStatus: response.status };
  if (response.status !== 200) {
    const error = openrouterError(response.status, response.headers, readErrorBody(response.text));
    call.logger.warn({ ...log, code: error.code }, 'upstream refused');
    throw error;
  }
  const answer = parseWire('openrouter', CompletionSchema, parseJson('openrouter', response.text), 'the chat completion');
  const inBand = answer.error ?? answer.choices?.find((choice) => choice.error != null)?.error;
  if (inBand != null) {
    const error = openrouterError(typeof inBand.code === 'number' ? inBand.code : 500, response.headers, inBand);
    call.logger.warn({ ...log, upstreamRequestId: answer.id, code: error.code }, 'upstream refused (error in an HTTP 200)');
    throw error;
  }
  const choices = answer.choices ?? [];
  const urls = choices.flatMap((choice) => (choice.message?.images ?? []).map((image) => image.image_url.url));
  const refused = choices.find(
    (choice) =>
      choice.finish_reason === 'content_filter' ||
      (choice.message?.refusal ?? '') !== '' ||
      (urls.length === 0 && NATIVE_REFUSALS.has((choice.native_finish_reason ?? '').toUpperCase())),
  );
  if (refused !== undefined) {
    call.logger.warn(
      { ...log, upstreamRequestId: answer.id, finishReason: refused.finish_reason, nativeFinishReason: refused.native_finish_reason },
      'upstream refused (HTTP 200)',
    );
    throw contentPolicyError(
      'openrouter',
      refused.message?.refusal ?? `the model stopped without an image (${refused.native_finish_reason ?? refused.finish_reason ?? 'content_filter'})`,
    );
  }
  if (urls.length === 0) {
    // A text-only answer with no safety reason: Gemini does this now and then for prompts it
    // draws on a second try, so it is a retryable fault, not a refusal.
    const text = choices
      .map((choice) => (typeof choice.message?.content === 'string' ? choice.message.content : ''))
      .join(' ')
      .slice(0, 200);
    throw malformedResponse('openrouter', `the answer holds no image${text === '' ? '' : ` (the model said: ${text})`}`);
  }
  // One picture per call (maxImagesPerCall): a model that draws more is asked for what was wanted.
  const images: ProviderImage[] = await Promise.all(urls.slice(0, wanted).map((url) => fetchImage(url, call)));
  call.logger.debug({ ...log, upstreamRequestId: answer.id }, 'upstream answered');
  return { images };
}

/** A data URL decoded; an http(s) link downloaded at once (address policy, size cap). */
async function fetchImage(url: string, call: ProviderCall<OpenRouterOptions>): Promise<ProviderImage> {
  if (isDataUrl(url)) return decodeDataUrl('openrouter', url);
  if (/^https?:\/\//i.test(url)) return { bytes: await call.channel.http.download(url, call.signal) };
  throw malformedResponse('openrouter', 'an image URL is neither a data URL nor an http(s) link');
}
