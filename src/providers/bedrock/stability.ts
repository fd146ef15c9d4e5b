import { z } from 'zod';
import type { OutputFormat } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { mimeOf } from '../../media/sniff.ts';
import { decodeBase64Image } from '../shared/call-upstream.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage } from '../types.ts';
import { invokeModel } from './client.ts';
import type { BedrockOptions } from './options.ts';

const PROVIDER = 'bedrock';

/** Stability's largest seed on Bedrock (0–4294967294, 0 meaning random). */
const MAX_SEED = 4_294_967_294;

/**
 * The answer of Stability models on Bedrock: `{seeds, finish_reasons, images}`, one entry per
 * image; a `null` finish reason is a success, anything else ("Filter reason: prompt", "Filter
 * reason: output image", "Filter reason: input image", "Inference error") is not, and a filtered
 * answer may carry no `images` or `seeds` at all (Bedrock user guide, "Stable Image Ultra request
 * and response", "Stable Image Core …", "Stable Diffusion 3.5 Large …").
 */
const AnswerSchema = z.looseObject({
  seeds: z.array(z.number()).optional(),
  finish_reasons: z.array(z.string().nullable()),
  images: z.array(z.string()).optional(),
});

/**
 * One Stability image through InvokeModel. The body is the v2beta generate fields as JSON:
 * `prompt`, `aspect_ratio` (the catalog's aspect rule picked one of the nine), `output_format`
 * (jpeg or png on Bedrock; webp is asked as png and transcoded by the gateway), `seed`,
 * `negative_prompt`; SD3.5 Large also takes `mode` ("text-to-image"), which Ultra and Core do
 * not list (Bedrock user guide, per model).
 */
export async function stabilityImage(request: ImageParams, call: ProviderCall<BedrockOptions>, seed: number | null): Promise<ProviderImage> {
  const format: OutputFormat = request.outputFormat === 'jpeg' ? 'jpeg' : 'png';
  const body: Record<string, unknown> = { prompt: request.prompt };
  if (isSd3(call.upstreamModel)) body['mode'] = 'text-to-image';
  body['aspect_ratio'] = request.aspect?.ratio ?? '1:1';
  body['output_format'] = format;
  if (seed !== null) body['seed'] = seed % (MAX_SEED + 1);
  if (request.negativePrompt !== null) body['negative_prompt'] = request.negativePrompt;

  const answer = parseWire(PROVIDER, AnswerSchema, await invokeModel(call, body), 'the Stability answer');
  const refused = answer.finish_reasons.find((reason) => reason !== null);
  if (refused !== undefined && refused !== null) {
    if (refused.startsWith('Filter reason')) {
      call.logger.warn({ requestId: call.requestId, channel: call.channel.id, finishReason: refused }, 'upstream refused (filtered in an HTTP 200)');
      throw contentPolicyError(PROVIDER, `the image was filtered (${refused}).`);
    }
    throw new GatewayError('upstream_error', `The upstream provider (${PROVIDER}) failed to generate: ${refused}.`, { retryable: true });
  }
  const image = answer.images?.[0];
  if (image === undefined) throw malformedResponse(PROVIDER, 'a successful Stability answer has no image');
  return { bytes: decodeBase64Image(PROVIDER, image), base64: image, mime: mimeOf(format) };
}

/**
 * Whether a Bedrock model id (or inference profile id or ARN, which end with it) is SD3.5:
 * `stability.sd3-5-large-v1:0`, `us.stability.sd3-5-large-v1:0`, `arn:…/stability.sd3-…`.
 */
function isSd3(modelId: string): boolean {
  return /(?:^|[./])stability\.sd3/.test(modelId);
}
