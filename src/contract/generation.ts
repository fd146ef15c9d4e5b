import { z } from 'zod';
import type { Background, Catalog, ModelSpec, OutputFormat, ResponseFormat, Style } from '../catalog/index.ts';
import { resolveSize } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { GenerationRequest } from './generation-request.ts';
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

  const modelId = raw.model ?? defaultModelId;
  const model = catalog.get(modelId);
  if (model === undefined) {
    throw new GatewayError(
      'model_not_found',
      `The model '${modelId}' does not exist. Available models: ${catalog.all().map((m) => m.id).join(', ')}.`,
      { param: 'model' },
    );
  }

  const prompt = raw.prompt;
  if (prompt.trim().length === 0) {
    throw new GatewayError('invalid_value', "Invalid value for 'prompt': it must not be empty.", { param: 'prompt' });
  }
  if (prompt.length > model.promptMaxChars) {
    throw new GatewayError(
      'invalid_value',
      `Invalid value for 'prompt': ${model.id} takes at most ${model.promptMaxChars} characters, got ${prompt.length}.`,
      { param: 'prompt' },
    );
  }

  const n = raw.n ?? 1;
  if (n < 1 || n > model.maxN) {
    const allowed = model.maxN === 1 ? 'only n=1' : `n from 1 to ${model.maxN}`;
    throw new GatewayError('invalid_value', `Invalid value ${n} for 'n': ${model.id} supports ${allowed}.`, { param: 'n' });
  }

  const sizeAsked = raw.size ?? undefined;
  const size = resolveSize(model.id, model.size, sizeAsked);
  if (!size.ok) {
    throw new GatewayError('invalid_value', `Invalid value '${sizeAsked}' for 'size': ${size.reason}.`, { param: 'size' });
  }

  const qualityAsked = raw.quality ?? 'auto';
  if (!model.qualities.includes(qualityAsked)) {
    throw invalidChoice(model, 'quality', qualityAsked, model.qualities);
  }
  const quality = qualityAsked === 'auto' ? model.defaultQuality : qualityAsked;

  const responseFormat = oneOf<ResponseFormat>(model, 'response_format', raw.response_format, ['url', 'b64_json']) ?? model.defaultResponseFormat;

  const style = checkStyle(model, raw);
  const outputFormat = checkOutputFormat(model, raw);
  const outputCompression = checkCompression(model, raw, outputFormat);
  const background = checkBackground(model, raw, outputFormat);

  if (raw.moderation != null && !model.takesModeration) throw notTaken(model, 'moderation');
  const moderation = model.takesModeration ? (oneOf(model, 'moderation', raw.moderation, ['low', 'auto'] as const) ?? 'auto') : null;

  const stream = raw.stream === true;
  if (stream && !model.streaming) {
    throw new GatewayError('unsupported_parameter', `${model.id} does not support streaming; only GPT image models stream.`, { param: 'stream' });
  }
  if (raw.partial_images != null && !stream) {
    throw new GatewayError('unsupported_parameter', `'partial_images' applies only to streaming requests ('stream': true).`, {
      param: 'partial_images',
    });
  }
  const partialImages = raw.partial_images ?? 0;
  if (partialImages < 0 || partialImages > 3) {
    throw new GatewayError('invalid_value', `Invalid value ${partialImages} for 'partial_images': it must be from 0 to 3.`, { param: 'partial_images' });
  }

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

function checkOutputFormat(model: ModelSpec, raw: RawRequest): OutputFormat {
  if (raw.output_format == null) return model.outputFormats[0] ?? model.nativeFormat;
  if (model.outputFormats.length === 0) throw notTaken(model, 'output_format');
  return oneOf(model, 'output_format', raw.output_format, model.outputFormats) ?? model.nativeFormat;
}

function checkCompression(model: ModelSpec, raw: RawRequest, format: OutputFormat): number {
  const asked = raw.output_compression;
  if (asked == null) return 100;
  if (model.outputFormats.length === 0) throw notTaken(model, 'output_compression');
  if (asked < 0 || asked > 100) {
    throw new GatewayError('invalid_value', `Invalid value ${asked} for 'output_compression': it must be from 0 to 100.`, {
      param: 'output_compression',
    });
  }
  if (format === 'png') {
    throw new GatewayError(
      'invalid_value',
      `'output_compression' applies only to jpeg and webp; set 'output_format' to 'jpeg' or 'webp', or leave 'output_compression' out.`,
      { param: 'output_compression' },
    );
  }
  return asked;
}

function checkBackground(model: ModelSpec, raw: RawRequest, format: OutputFormat): 'transparent' | 'opaque' {
  if (raw.background == null) return 'opaque';
  if (model.backgrounds.length === 0) throw notTaken(model, 'background');
  const background: Background = oneOf(model, 'background', raw.background, model.backgrounds) ?? 'auto';
  if (background === 'transparent' && format === 'jpeg') {
    throw new GatewayError(
      'invalid_value',
      `A transparent background needs 'output_format' png or webp; jpeg has no transparency.`,
      { param: 'background' },
    );
  }
  // `auto` lets the model choose; a request that says nothing about transparency gets an opaque
  // image, which is what OpenAI's models answer for `auto` in practice.
  return background === 'transparent' ? 'transparent' : 'opaque';
}

function oneOf<T extends string>(model: ModelSpec, param: string, value: string | null | undefined, allowed: readonly T[]): T | undefined {
  if (value == null) return undefined;
  const match = allowed.find((option) => option === value);
  if (match === undefined) throw invalidChoice(model, param, value, allowed);
  return match;
}

function invalidChoice(model: ModelSpec, param: string, value: string, allowed: readonly string[]): GatewayError {
  return new GatewayError('invalid_value', `Invalid value '${value}' for '${param}': ${model.id} supports ${allowed.join(', ')}.`, { param });
}

function notTaken(model: ModelSpec, param: string): GatewayError {
  const owners: Record<string, string> = {
    style: 'only dall-e-3 takes it',
    output_format: 'only GPT image models take it',
    output_compression: 'only GPT image models take it',
    background: 'only GPT image models take it',
    moderation: 'only GPT image models take it',
  };
  return new GatewayError('unsupported_parameter', `${model.id} does not support '${param}'; ${owners[param] ?? 'remove it'}.`, { param });
}
