import type { Background, Catalog, ModelSpec, Moderation, OutputFormat, ResponseFormat } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';

/*
 * Per-field checks shared by every images endpoint (generations, edits, variations): each takes
 * the value as the client sent it (already of the right JSON type) and the model, and returns the
 * resolved value or throws the OpenAI-style error naming the field. A field the model does not
 * take goes through `FieldPolicy.unsupported`, which refuses it (OpenAI's behaviour) or, with
 * `server.unsupportedParams: drop`, drops it and remembers its name.
 */

/** What to do with a field the chosen model does not take. */
export type UnsupportedParams = 'error' | 'drop';

/** How one request's unsupported fields are handled; collects the ones dropped. */
export class FieldPolicy {
  readonly mode: UnsupportedParams;
  readonly #catalog: Catalog;
  readonly #dropped: string[] = [];

  constructor(mode: UnsupportedParams, catalog: Catalog) {
    this.mode = mode;
    this.#catalog = catalog;
  }

  /** The field exists, but not for this model: 400 `unsupported_parameter`, or dropped. */
  unsupported(model: ModelSpec, param: string): void {
    if (this.mode === 'error') {
      const takes = FIELD_TAKEN[param];
      const takers =
        takes === undefined
          ? []
          : this.#catalog
              .all()
              .filter(takes)
              .map((other) => other.id);
      throw notTaken(model, param, takers);
    }
    if (!this.#dropped.includes(param)) this.#dropped.push(param);
  }

  /**
   * A value the model does not take. In drop mode, a value some other catalog model takes for
   * the same field (LangChain's DallEAPIWrapper sends `quality: "standard"` to gpt-image-1) is
   * dropped like an unsupported field; a value no model takes is refused either way.
   */
  invalidChoice(model: ModelSpec, param: string, value: string, allowed: readonly string[], valuesOf: (other: ModelSpec) => readonly string[]): 'dropped' {
    if (this.mode === 'drop' && this.#catalog.all().some((other) => valuesOf(other).includes(value))) {
      this.unsupported(model, param);
      return 'dropped';
    }
    throw invalidChoice(model, param, value, allowed);
  }

  get dropped(): readonly string[] {
    return this.#dropped;
  }
}

/** The catalog model, or 404 `model_not_found` listing the ones that exist. */
export function resolveModel(catalog: Catalog, modelId: string): ModelSpec {
  const model = catalog.get(modelId);
  if (model === undefined) {
    throw new GatewayError(
      'model_not_found',
      `The model '${modelId}' does not exist. Available models: ${[...catalog.all().map((m) => m.id), ...catalog.aliases().keys()].join(', ')}.`,
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
    throw new GatewayError('invalid_value', `Invalid value for 'prompt': ${model.id} takes at most ${model.promptMaxChars} characters, got ${prompt.length}.`, {
      param: 'prompt',
    });
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
export function checkQuality(model: ModelSpec, asked: string | null | undefined, policy: FieldPolicy): string {
  const quality = asked ?? 'auto';
  if (!model.qualities.includes(quality)) {
    policy.invalidChoice(model, 'quality', quality, model.qualities, (other) => other.qualities);
    return model.defaultQuality;
  }
  return quality === 'auto' ? model.defaultQuality : quality;
}

/**
 * `url` or `b64_json`. The gateway stores every image, so it answers either for every model
 * (DESIGN.md, "Storage and URLs"), not only for dall-e as OpenAI does.
 */
export function checkResponseFormat(model: ModelSpec, asked: string | null | undefined): ResponseFormat {
  if (asked == null) return model.defaultResponseFormat;
  if (asked !== 'url' && asked !== 'b64_json') throw invalidChoice(model, 'response_format', asked, ['url', 'b64_json']);
  return asked;
}

export function checkOutputFormat(model: ModelSpec, asked: string | null | undefined, policy: FieldPolicy): OutputFormat {
  const fallback = model.outputFormats[0] ?? model.nativeFormat;
  if (asked == null) return fallback;
  if (model.outputFormats.length === 0) {
    policy.unsupported(model, 'output_format');
    return fallback;
  }
  return oneOf(model, 'output_format', asked, model.outputFormats) ?? fallback;
}

export function checkCompression(model: ModelSpec, asked: number | null | undefined, format: OutputFormat, policy: FieldPolicy): number {
  if (asked == null) return 100;
  if (model.outputFormats.length === 0) {
    policy.unsupported(model, 'output_compression');
    return 100;
  }
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

export function checkBackground(model: ModelSpec, asked: string | null | undefined, format: OutputFormat, policy: FieldPolicy): 'transparent' | 'opaque' {
  if (asked == null) return 'opaque';
  if (model.backgrounds.length === 0) {
    policy.unsupported(model, 'background');
    return 'opaque';
  }
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

export function checkModeration(model: ModelSpec, asked: string | null | undefined, policy: FieldPolicy): Moderation | null {
  if (!model.takesModeration) {
    if (asked != null) policy.unsupported(model, 'moderation');
    return null;
  }
  return oneOf(model, 'moderation', asked, ['low', 'auto'] as const) ?? 'auto';
}

/** `seed` (imagegate extension), for models whose catalog entry takes it. */
export function checkSeed(model: ModelSpec, asked: number | null | undefined, policy: FieldPolicy): number | null {
  if (asked == null) return null;
  if (!model.extras.seed) {
    policy.unsupported(model, 'seed');
    return null;
  }
  return asked;
}

/** `negative_prompt` (imagegate extension), for models whose catalog entry takes it. */
export function checkNegativePrompt(model: ModelSpec, asked: string | null | undefined, policy: FieldPolicy): string | null {
  if (asked == null || asked === '') return null;
  const maxChars = model.extras.negativePromptMaxChars;
  if (maxChars === null) {
    policy.unsupported(model, 'negative_prompt');
    return null;
  }
  if (asked.length > maxChars) {
    throw new GatewayError('invalid_value', `Invalid value for 'negative_prompt': ${model.id} takes at most ${maxChars} characters, got ${asked.length}.`, {
      param: 'negative_prompt',
    });
  }
  return asked;
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

/** Which models take each optional field, read from their catalog entries (for messages). */
const FIELD_TAKEN: Readonly<Record<string, (model: ModelSpec) => boolean>> = {
  style: (m) => m.styles.length > 0,
  output_format: (m) => m.outputFormats.length > 0,
  output_compression: (m) => m.outputFormats.length > 0,
  background: (m) => m.backgrounds.length > 0,
  moderation: (m) => m.takesModeration,
  input_fidelity: (m) => (m.edit?.inputFidelities.length ?? 0) > 0,
  seed: (m) => m.extras.seed,
  negative_prompt: (m) => m.extras.negativePromptMaxChars !== null,
  aspect_ratio: (m) => m.size.kind === 'aspect',
  resolution: (m) => m.size.kind === 'aspect',
  partial_images: (m) => m.streaming,
  quality: (m) => m.qualities.length > 1,
};

/** 400 `unsupported_parameter`: the field exists, but not for this model. */
export function notTaken(model: ModelSpec, param: string, takers: readonly string[] = []): GatewayError {
  const hint = takers.length === 0 ? 'remove it' : `remove it, or use a model that takes it (${takers.join(', ')})`;
  return new GatewayError('unsupported_parameter', `${model.id} does not support '${param}'; ${hint}.`, { param });
}

/** `stream` and `partial_images` (GPT image models stream; 0–3 partial images, only with `stream`). */
export function checkStreaming(
  model: ModelSpec,
  stream: boolean | null | undefined,
  partialImages: number | null | undefined,
  policy: FieldPolicy,
): { stream: boolean; partialImages: number } {
  let streaming = stream === true;
  if (streaming && !model.streaming) {
    // Dropping `stream` would answer JSON to a client reading events: refused in either mode.
    throw new GatewayError('unsupported_parameter', `${model.id} does not support streaming; GET /v1/models lists the models that stream.`, {
      param: 'stream',
    });
  }
  if (partialImages != null && !streaming) {
    if (!model.streaming) policy.unsupported(model, 'partial_images');
    else throw new GatewayError('unsupported_parameter', `'partial_images' applies only to streaming requests ('stream': true).`, { param: 'partial_images' });
    streaming = false;
    return { stream: streaming, partialImages: 0 };
  }
  const count = partialImages ?? 0;
  if (count < 0 || count > 3) {
    throw new GatewayError('invalid_value', `Invalid value ${count} for 'partial_images': it must be from 0 to 3.`, { param: 'partial_images' });
  }
  return { stream: streaming, partialImages: count };
}
