import { z } from 'zod';
import { type Catalog, type ModelSpec, parseSize, type Style } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { GenerationRequest } from './generation-request.ts';
import {
  checkBackground,
  checkCompression,
  checkModeration,
  checkN,
  checkNegativePrompt,
  checkOutputFormat,
  checkPrompt,
  checkQuality,
  checkResponseFormat,
  checkSeed,
  checkStreaming,
  FieldPolicy,
  oneOf,
  resolveModel,
  type UnsupportedParams,
} from './image-fields.ts';
import { zodIssueToError } from './parse-body.ts';
import { resolveRequestedSize } from './size-fields.ts';

/*
 * CreateImageRequest as OpenAI documents it (contract notes §2), plus imagegate's extensions
 * (`seed`, `negative_prompt`, `aspect_ratio`, `resolution`) for the models whose catalog entry
 * takes them. Every optional field is also `nullable` in the spec; null means "not given". Types
 * are checked here, per-model rules below.
 */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish();

export const CreateImageRequestSchema = z.strictObject({
  prompt: z.string(),
  model: optional(z.string()),
  n: optional(z.number().int('must be a whole number')),
  quality: optional(z.string()),
  response_format: optional(z.string()),
  output_format: optional(z.string()),
  output_compression: optional(z.number().int('must be a whole number')),
  stream: optional(z.boolean()),
  partial_images: optional(z.number().int('must be a whole number')),
  size: optional(z.string()),
  moderation: optional(z.string()),
  background: optional(z.string()),
  style: optional(z.string()),
  user: optional(z.string().max(256, 'must be at most 256 characters')),
  safety_identifier: optional(z.string().max(256, 'must be at most 256 characters')),
  seed: optional(z.number().int('must be a whole number').min(0).max(2_147_483_647)),
  negative_prompt: optional(z.string()),
  aspect_ratio: optional(z.string()),
  resolution: optional(z.string()),
});

type RawRequest = z.infer<typeof CreateImageRequestSchema>;

/** How the contract step reads requests: the catalog, the default model, unsupported fields. */
export interface ContractSettings {
  readonly catalog: Catalog;
  /** The model used when a request names none. */
  readonly defaultModel: string;
  readonly unsupportedParams: UnsupportedParams;
}

/** Validates a parsed JSON body against the catalog; the only place raw generation input is read. */
export function validateGeneration(body: unknown, settings: ContractSettings): GenerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_type', 'The request body must be a JSON object.');
  }
  const parsed = CreateImageRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToError(parsed.error, body);
  const raw = parsed.data;
  const policy = new FieldPolicy(settings.unsupportedParams, settings.catalog);

  const model = resolveModel(settings.catalog, raw.model ?? settings.defaultModel);
  const prompt = checkPrompt(model, raw.prompt);
  const n = checkN(model, raw.n);
  const { size, aspect } = resolveRequestedSize(model, raw.size ?? undefined, raw.aspect_ratio, raw.resolution, policy);
  const quality = checkQuality(model, raw.quality, policy);
  const responseFormat = checkResponseFormat(model, raw.response_format);
  const style = checkStyle(model, raw, policy);
  const outputFormat = checkOutputFormat(model, raw.output_format, policy);
  const outputCompression = checkCompression(model, raw.output_compression, outputFormat, policy);
  const background = checkBackground(model, raw.background, outputFormat, policy);
  const moderation = checkModeration(model, raw.moderation, policy);
  const { stream, partialImages } = checkStreaming(model, raw.stream, raw.partial_images, policy);

  return {
    operation: 'generate',
    model,
    prompt,
    n,
    size,
    askedSize: raw.size == null ? null : parseSize(raw.size),
    aspect,
    quality,
    style,
    responseFormat,
    outputFormat,
    outputCompression,
    background,
    moderation,
    seed: checkSeed(model, raw.seed, policy),
    negativePrompt: checkNegativePrompt(model, raw.negative_prompt, policy),
    user: raw.safety_identifier ?? raw.user ?? null,
    stream,
    partialImages,
    droppedParams: policy.dropped,
  };
}

function checkStyle(model: ModelSpec, raw: RawRequest, policy: FieldPolicy): Style | null {
  if (raw.style == null) return model.defaultStyle;
  if (model.styles.length === 0) {
    policy.unsupported(model, 'style');
    return null;
  }
  return oneOf(model, 'style', raw.style, model.styles) ?? model.defaultStyle;
}
