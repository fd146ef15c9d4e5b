import { z } from 'zod';
import type { Dimensions } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { decodeBase64Image } from '../shared/call-upstream.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderResult } from '../types.ts';
import { invokeModel } from './client.ts';
import type { BedrockOptions } from './options.ts';

const PROVIDER = 'bedrock';

/**
 * Seeds each model takes: Nova Canvas 0–858,993,459, Titan 0–2,147,483,646 (Nova user guide and
 * Titan parameters, `imageGenerationConfig.seed`). The gateway takes 0–2,147,483,647 and wraps.
 */
const NOVA_MAX_SEED = 858_993_459;
const TITAN_MAX_SEED = 2_147_483_646;

/** Nova Canvas edges are 320–4096 px, multiples of 16 (Nova user guide, imageGenerationConfig). */
const NOVA_MIN_EDGE_PX = 320;
const NOVA_STEP_PX = 16;

/**
 * The answer of Nova Canvas and Titan: `{images: [base64 PNG…], error}`, where `error` is set
 * when the content moderation policy removed images ("If the request violates the content
 * moderation policy, a message is returned in this field", Titan parameters; Nova the same).
 */
const AnswerSchema = z.looseObject({
  images: z.array(z.string()).default([]),
  error: z.string().nullish(),
});

/**
 * `request.n` images in one TEXT_IMAGE task: `textToImageParams{text, negativeText}` and
 * `imageGenerationConfig{width, height, quality, numberOfImages, seed, cfgScale}`. Nova Canvas
 * takes any size of its rule, with a short edge of 320 px at least: smaller ones (which the free
 * rule lets through) are scaled up and the delivered size reported; Titan's listed sizes go as
 * they are.
 */
export async function amazonImages(request: ImageParams, call: ProviderCall<BedrockOptions>): Promise<ProviderResult> {
  const nova = !/(?:^|[./])amazon\.titan-image/.test(call.upstreamModel);
  const size = nova ? novaSize(request.size) : request.size;
  const textToImageParams: Record<string, string> = { text: request.prompt };
  if (request.negativePrompt !== null) textToImageParams['negativeText'] = request.negativePrompt;
  const config: Record<string, unknown> = {
    width: size.width,
    height: size.height,
    quality: request.quality === 'premium' ? 'premium' : 'standard',
    numberOfImages: request.n,
  };
  if (request.seed !== null) config['seed'] = request.seed % ((nova ? NOVA_MAX_SEED : TITAN_MAX_SEED) + 1);
  if (call.options.cfgScale !== undefined) config['cfgScale'] = call.options.cfgScale;

  const answer = parseWire(
    PROVIDER,
    AnswerSchema,
    await invokeModel(call, { taskType: 'TEXT_IMAGE', textToImageParams, imageGenerationConfig: config }),
    'the image generation answer',
  );
  if (answer.error !== undefined && answer.error !== null && answer.error !== '') {
    // HTTP 200 with the moderation's message: the images it removed are never delivered, and
    // the ones left are not what was asked for.
    call.logger.warn({ requestId: call.requestId, channel: call.channel.id, delivered: answer.images.length }, 'upstream refused (moderated in an HTTP 200)');
    throw contentPolicyError(PROVIDER, answer.error);
  }
  if (answer.images.length !== request.n) {
    throw malformedResponse(PROVIDER, `${request.n} images were asked for and ${answer.images.length} came back`);
  }
  const images = answer.images.map((image) => ({ bytes: decodeBase64Image(PROVIDER, image), base64: image, mime: 'image/png' }));
  const scaled = size.width !== request.size.width || size.height !== request.size.height;
  return { images, ...(scaled ? { deliveredSize: size } : {}) };
}

/** The size Nova Canvas draws for a size of the catalog's rule: short edge raised to 320 px, in steps of 16. */
function novaSize(asked: Dimensions): Dimensions {
  const shortEdge = Math.min(asked.width, asked.height);
  if (shortEdge >= NOVA_MIN_EDGE_PX) return asked;
  const scale = NOVA_MIN_EDGE_PX / shortEdge;
  const edge = (px: number): number => Math.max(NOVA_MIN_EDGE_PX, Math.ceil((px * scale) / NOVA_STEP_PX) * NOVA_STEP_PX);
  return { width: edge(asked.width), height: edge(asked.height) };
}
