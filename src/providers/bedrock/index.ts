import type { ModelSpec } from '../../catalog/index.ts';
import type { ProviderAdapter } from '../types.ts';
import { amazonImages } from './amazon.ts';
import { DEFAULT_BASE_URL } from './client.ts';
import { type BedrockOptions, BedrockOptionsSchema } from './options.ts';
import { stabilityImage } from './stability.ts';

/** Nova Canvas and Titan take `numberOfImages` 1–5 (imageGenerationConfig). */
const AMAZON_MAX_IMAGES_PER_CALL = 5;

/**
 * Amazon Bedrock's InvokeModel through the official AWS SDK (`@aws-sdk/client-bedrock-runtime`,
 * SigV4 signing, the default credential chain unless the channel names `options.accessKeyId`
 * with its secret as `apiKey`). The channel's `models` map a catalog id to the Bedrock model id
 * (or an inference profile id or ARN): `stable-image-ultra: stability.stable-image-ultra-v1:1`,
 * `nova-canvas: amazon.nova-canvas-v1:0`.
 *
 * Two wire families, told apart by the catalog model's maker: Stability's models take the
 * v2beta fields as JSON and make one image per call (the router fans `n` out); Amazon's take a
 * TEXT_IMAGE task with `numberOfImages`. The SDK's requests go over the channel's undici pool
 * (channel-http-handler.ts); without a `baseUrl` the SDK's regional endpoint for the channel's
 * region is used (client.ts, DEFAULT_BASE_URL).
 */
export const bedrockProvider: ProviderAdapter<BedrockOptions> = {
  id: 'bedrock',
  defaultBaseUrl: DEFAULT_BASE_URL,
  optionsSchema: BedrockOptionsSchema,
  serves: (model: ModelSpec) =>
    model.ownedBy === 'stability' ||
    model.ownedBy === 'amazon' ||
    `Bedrock serves Stability and Amazon image models here; ${model.id} is owned by ${model.ownedBy}`,
  maxImagesPerCall: (model) => (model.ownedBy === 'amazon' ? Math.min(AMAZON_MAX_IMAGES_PER_CALL, model.maxN) : 1),

  async generate(request, call) {
    if (request.model.ownedBy === 'amazon') return amazonImages(request, call);
    // One image per Stability call; image i of a seeded request gets seed + i so that they differ.
    const images = await Promise.all(
      Array.from({ length: request.n }, (_, i) => stabilityImage(request, call, request.seed === null ? null : request.seed + i)),
    );
    return { images };
  },
};
