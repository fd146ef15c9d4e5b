import type { Background, Catalog, ModelSpec, Moderation, OutputFormat, ResponseFormat } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';

/*
 * Per-field checks shared by every images endpoint (generations, edits, variations): each takes
 * the value as the client sent it (already of the right JSON type) and the model, and returns the
 * resolved value or throws the OpenAI-style error naming the field. The messages are the ones
 * `generation.ts` has always answered, so all endpoints speak alike.
 */

/** The catalog model, or 404 `model_not_found` listing the ones that exist. */
export function resolveModel(catalog: Catalog, modelId: string): ModelSpec {
  const model = catalog.get(modelId);
  if (model === undefined) {
    throw new GatewayError(
      'model_not_found',
      `The model '${modelId}' does not exist. Available models: ${catalog.all().map((m) => m.id).join(', ')}.`,
      { param: 'model' },
    );
  }
  return model;
}

/** A non-blank prompt within the model's length limit. */
export function checkPrompt(model: ModelSpec, prompt: string): string {
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
  return prompt;
}

/** `n` within 1 … the model's maximum (1 when not given). */
export function checkN(model: ModelSpec, asked: number | null | undefined): number {
  const n = asked ?? 1;
  if (n < 1 || n > model.maxN) {
    const allowed = model.maxN === 1 ? 'only n=1' : `n from 1 to ${model.maxN}`;
    throw new GatewayError('invalid_value', `Invalid value ${n} for 'n': ${model.id} supports ${allowed}.`, { param: 'n' });
  }
  return n;
}

/** A quality the model takes, resolved (`auto` becomes the model's default). */
export function checkQuality(model: ModelSpec, asked: string | null | undefined): string {
  const quality = asked ?? 'auto';
  if (!model.qualities.includes(quality)) throw invalidChoice(model, 'quality', quality, model.qualities);
  return quality === 'auto' ? model.defaultQuality : quality;
}

/**
 * `url` or `b64_json`. The gateway stores every image, so it answers either for every model
 * (DESIGN.md, "Storage and URLs"), not only for dall-e as OpenAI does.
 */
export function checkResponseFormat(model: ModelSpec, asked: string | null | undefined): ResponseFormat {
  return oneOf<ResponseFormat>(model, 'response_format', asked, ['url', 'b64_json']) ?? model.defaultResponseFormat;
}

export function checkOutputFormat(model: ModelSpec, asked: string | null | undefined): OutputFormat {
  if (asked == null) return model.outputFormats[0] ?? model.nativeFormat;
  if (model.outputFormats.length === 0) throw notTaken(model, 'output_format');
  return oneOf(model, 'output_format', asked, model.outputFormats) ?? model.nativeFormat;
}

export function checkCompression(model: ModelSpec, asked: number | null | undefined, format: OutputFormat): number {
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

export function checkBackground(model: ModelSpec, asked: string | null | undefined, format: OutputFormat): 'transparent' | 'opaque' {
  if (asked == null) return 'opaque';
  if (model.backgrounds.length === 0) throw notTaken(model, 'background');
  const background: Background = oneOf(model, 'background', asked, model.backgrounds) ?? 'auto';
  if (background === 'transparent' && format === 'jpeg') {
    throw new GatewayError('invalid_value', `A transparent background needs 'output_format' png or webp; jpeg has no transparency.`, {
      param: 'background',
    });
  }
  // `auto` lets the model choose; a request that says nothing about transparency gets an opaque
  // image, which is what OpenAI's models answer for `auto` in practice.
  return background === 'transparent' ? 'transparent' : 'opaque';
}

export function checkModeration(model: ModelSpec, asked: string | null | undefined): Moderation | null {
  if (asked != null && !model.takesModeration) throw notTaken(model, 'moderation');
  return model.takesModeration ? (oneOf(model, 'moderation', asked, ['low', 'auto'] as const) ?? 'auto') : null;
}

/** `value` if it is one of `allowed`; `undefined` when not given; a 400 naming the choices otherwise. */
export function oneOf<T extends string>(model: ModelSpec, param: string, value: string | null | undefined, allowed: readonly T[]): T | undefined {
  if (value == null) return undefined;
  const match = allowed.find((option) => option === value);
  if (match === undefined) throw invalidChoice(model, param, value, allowed);
  return match;
}

export function invalidChoice(model: ModelSpec, param: string, value: string, allowed: readonly string[]): GatewayError {
  return new GatewayError('invalid_value', `Invalid value '${value}' for '${param}': ${model.id} supports ${allowed.join(', ')}.`, { param });
}

const OWNERS: Readonly<Record<string, string>> = {
  style: 'only dall-e-3 takes it',
  output_format: 'only GPT image models take it',
  output_compression: 'only GPT image models take it',
  background: 'only GPT image models take it',
  moderation: 'only GPT image models take it',
  input_fidelity: 'only GPT image models take it',
};

/** 400 `unsupported_parameter`: the field exists, but not for this model. */
export function notTaken(model: ModelSpec, param: string): GatewayError {
  return new GatewayError('unsupported_parameter', `${model.id} does not support '${param}'; ${OWNERS[param] ?? 'remove it'}.`, { param });
}

/** `stream` and `partial_images` (GPT image models stream; 0–3 partial images, only with `stream`). */
export function checkStreaming(model: ModelSpec, stream: boolean | null | undefined, partialImages: number | null | undefined): { stream: boolean; partialImages: number } {
  const streaming = stream === true;
  if (streaming && !model.streaming) {
    throw new GatewayError('unsupported_parameter', `${model.id} does not support streaming; only GPT image models stream.`, { param: 'stream' });
  }
  if (partialImages != null && !streaming) {
    throw new GatewayError('unsupported_parameter', `'partial_images' applies only to streaming requests ('stream': true).`, { param: 'partial_images' });
  }
  const count = partialImages ?? 0;
  if (count < 0 || count > 3) {
    throw new GatewayError('invalid_value', `Invalid value ${count} for 'partial_images': it must be from 0 to 3.`, { param: 'partial_images' });
  }
  return { stream: streaming, partialImages: count };
}
