import { z } from 'zod';
import type { Catalog, ModelSpec, Style } from '../catalog/index.ts';
import { resolveSize } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { GenerationRequest } from './generation-request.ts';
import {
  checkStreaming,
  checkBackground,
  checkCompression,
  checkModeration,
  checkN,
  checkOutputFormat,
  checkPrompt,
  checkQuality,
  checkResponseFormat,
  notTaken,
  oneOf,
  resolveModel,
} from './image-fields.ts';
import { zodIssueToError } from './parse-body.ts';

/*
 * CreateImageRequest as OpenAI documents it (contract notes §2). Every optional field is also
 * `nullable` in the spec; null means "not given". Types are checked here, per-model rules below.
 */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish();

const CreateImageRequestSchema = z.strictObject({
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
  // imagegate extension: providers that take a seed (the local renderer) use it.
  seed: optional(z.number().int('must be a whole number').min(0).max(2_147_483_647)),
});

type RawRequest = z.infer<typeof CreateImageRequestSchema>;

/** Validates a parsed JSON body against the catalog; the only place raw generation input is read. */
export function validateGeneration(body: unknown, catalog: Catalog, defaultModelId: string): GenerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_type', 'The request body must be a JSON object.');
  }
  const parsed = CreateImageRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToError(parsed.error, body);
  const raw = parsed.data;

  const model = resolveModel(catalog, raw.model ?? defaultModelId);
  const prompt = checkPrompt(model, raw.prompt);
  const n = checkN(model, raw.n);

  const sizeAsked = raw.size ?? undefined;
  const size = resolveSize(model.id, model.size, sizeAsked);
  if (!size.ok) {
    throw new GatewayError('invalid_value', `Invalid value '${sizeAsked}' for 'size': ${size.reason}.`, { param: 'size' });
  }

  const quality = checkQuality(model, raw.quality);
  const responseFormat = checkResponseFormat(model, raw.response_format);
  const style = checkStyle(model, raw);
  const outputFormat = checkOutputFormat(model, raw.output_format);
  const outputCompression = checkCompression(model, raw.output_compression, outputFormat);
  const background = checkBackground(model, raw.background, outputFormat);
  const moderation = checkModeration(model, raw.moderation);

  const { stream, partialImages } = checkStreaming(model, raw.stream, raw.partial_images);


  return {
    model,
    prompt,
    n,
    size: size.size,
    quality,
    style,
    responseFormat,
    outputFormat,
    outputCompression,
    background,
    moderation,
    seed: raw.seed ?? null,
    user: raw.safety_identifier ?? raw.user ?? null,
    stream,
    partialImages,
  };
}

function checkStyle(model: ModelSpec, raw: RawRequest): Style | null {
  if (raw.style == null) return model.defaultStyle;
  if (model.styles.length === 0) throw notTaken(model, 'style');
  return oneOf(model, 'style', raw.style, model.styles) ?? model.defaultStyle;
}
