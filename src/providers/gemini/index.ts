import { z } from 'zod';
import type { ImageUsage, ModelSpec } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { type Composited, compositeOutsideMask } from '../../media/composite-outside-mask.ts';
import { callUpstream, parseJson } from '../shared/call-upstream.ts';
import { malformedResponse } from '../shared/upstream-errors.ts';
import type { ProviderAdapter, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { geminiError } from './errors.ts';
import { type GeminiAnswer, generateContentBody, readGenerateContent } from './wire.ts';

/** Gemini channels read no options yet; a strict schema makes a misspelt one stop the start. */
const GeminiOptionsSchema = z.strictObject({});
type GeminiOptions = z.infer<typeof GeminiOptionsSchema>;

/**
 * Google's Gemini API for its native image models ("Nano Banana": gemini-2.5-flash-image,
 * gemini-3.1-flash-image-preview, gemini-3-pro-image-preview; provider notes §3b, §11).
 * `POST {baseUrl}/models/{upstreamModel}:generateContent` with the key in `x-goog-api-key`; the
 * answer carries the image as base64 `inlineData`. One image per call: the router fans `n` out.
 *
 * Edits send the input images as `inlineData` before the prompt. Gemini takes no mask and redraws
 * the whole picture, so with a mask the gateway keeps every pixel outside it identical to the
 * input (media/composite-outside-mask.ts): a masked edit holds the same promise here as on OpenAI.
 */
export const geminiProvider: ProviderAdapter<GeminiOptions> = {
  id: 'gemini',
  defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
  optionsSchema: GeminiOptionsSchema,
  serves: (model: ModelSpec) => model.ownedBy === 'google' || `The Gemini API serves Google's models; ${model.id} is owned by ${model.ownedBy}`,
  maxImagesPerCall: () => 1,

  async generate(request, call) {
    return eachImage(request.n, call, async (signal, index) => {
      const answer = await generateContent({ ...call, signal }, generateContentBody(request, [], index));
      return { image: answer.image, usage: answer.usage };
    });
  },

  async edit(request, call) {
    const { mask } = request;
    const original = request.images[0];
    return eachImage(request.n, call, async (signal, index) => {
      const answer = await generateContent({ ...call, signal }, generateContentBody(request, request.images, index));
      if (mask === null || original === undefined) return { image: answer.image, usage: answer.usage };
      let composited: Composited;
      try {
        composited = await compositeOutsideMask({ original: original.bytes, mask: mask.bytes, edited: answer.image.bytes });
      } catch (err) {
        // The input and the mask passed the contract's checks: what failed to decode is the answer.
        throw malformedResponse('gemini', 'the edited image is not a readable image', err);
      }
      return { image: { bytes: composited.bytes, mime: 'image/png' }, usage: answer.usage };
    });
  },
};

/**
 * `n` images, one upstream call each, in parallel. The router asks for one at a time
 * (maxImagesPerCall); more are still honoured, and the first failure cancels the other calls.
 */
async function eachImage(
  n: number,
  call: ProviderCall<GeminiOptions>,
  one: (signal: AbortSignal, index: number) => Promise<{ image: ProviderImage; usage: ImageUsage | undefined }>,
): Promise<ProviderResult> {
  const siblings = new AbortController();
  const signal = n === 1 ? call.signal : AbortSignal.any([call.signal, siblings.signal]);
  const results = await Promise.all(
    Array.from({ length: n }, (_, index) =>
      one(signal, index).catch((err: unknown) => {
        siblings.abort(err);
        throw err;
      }),
    ),
  );
  const usages = results.map((result) => result.usage);
  const usage = usages.every((u) => u !== undefined) ? usages.reduce(addUsage) : undefined;
  return { images: results.map((result) => result.image), ...(usage === undefined ? {} : { usage }) };
}

function addUsage(a: ImageUsage, b: ImageUsage): ImageUsage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    input_tokens_details: {
      text_tokens: a.input_tokens_details.text_tokens + b.input_tokens_details.text_tokens,
      image_tokens: a.input_tokens_details.image_tokens + b.input_tokens_details.image_tokens,
    },
    output_tokens: a.output_tokens + b.output_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/** One generateContent call: the image it drew, or the GatewayError its answer means. */
async function generateContent(call: ProviderCall<GeminiOptions>, body: Record<string, unknown>): Promise<GeminiAnswer> {
  const { channel } = call;
  // Google names models `models/{id}`; a channel that copied the resource name works as well.
  const model = call.upstreamModel.replace(/^models\//, '');
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (channel.apiKey !== null) headers['x-goog-api-key'] = channel.apiKey;
  const response = await callUpstream(channel, {
    method: 'POST',
    url: `${channel.baseUrl}/models/${encodeURIComponent(model)}:generateContent`,
    headers,
    body: JSON.stringify(body),
    signal: call.signal,
    retain: call.retain,
  });
  const log = { requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, upstreamModel: model };
  if (response.status !== 200) {
    const error = geminiError(response.status, response.headers, response.text);
    call.logger.warn({ ...log, code: error.code }, 'upstream refused');
    throw error;
  }
  let answer: GeminiAnswer;
  try {
    answer = readGenerateContent(parseJson('gemini', response.text));
  } catch (err) {
    call.logger.warn({ ...log, code: err instanceof GatewayError ? err.code : undefined }, 'upstream answered without an image');
    throw err;
  }
  call.logger.debug({ ...log, modelVersion: answer.modelVersion, responseId: answer.responseId }, 'upstream answered');
  if (answer.extraImages > 0) call.logger.warn({ ...log, extraImages: answer.extraImages }, 'the model drew more than one image; the first is kept');
  return answer;
}
