import type { FastifyInstance } from 'fastify';
import { type Catalog, defaultSize, type ModelSpec, type SizeRule } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { Router } from '../routing/router.ts';

export interface ModelsRouteDeps {
  readonly catalog: Catalog;
  readonly router: Router;
  /** Unix seconds reported as every model's `created`: when this catalog was published. */
  readonly createdSeconds: number;
}

/**
 * `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list shape, with each model's
 * capabilities and serving provider under `imagegate` (extra fields the OpenAI client keeps).
 */
export function registerModelsRoutes(app: FastifyInstance, deps: ModelsRouteDeps): void {
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [
      ...deps.catalog.all().map((model) => describeModel(model, deps)),
      ...[...deps.catalog.aliases()].flatMap(([alias, target]) => {
        const model = deps.catalog.get(target);
        return model === undefined ? [] : [describeModel(model, deps, alias)];
      }),
    ],
  }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    const model = deps.catalog.get(request.params.id);
    if (model === undefined) {
      throw new GatewayError('model_not_found', `The model '${request.params.id}' does not exist.`, { param: 'model' });
    }
    return describeModel(model, deps, model.id === request.params.id ? null : request.params.id);
  });
}

function describeModel(model: ModelSpec, deps: ModelsRouteDeps, aliasOf: string | null = null) {
  return {
    id: aliasOf === null ? model.id : aliasOf,
    object: 'model',
    created: deps.createdSeconds,
    owned_by: model.ownedBy,
    imagegate: {
      ...(aliasOf === null ? {} : { alias_of: model.id }),
      // The first is the one tried first; `provider` stays for clients of earlier versions.
      provider: deps.router.providersFor(model)[0] ?? 'none',
      providers: deps.router.providersFor(model),
      ...describeSizes(model.size),
      default_size: defaultSize(model.size),
      n: { min: 1, max: model.maxN },
      prompt_max_chars: model.promptMaxChars,
      qualities: model.qualities,
      styles: model.styles,
      response_formats: ['url', 'b64_json'],
      default_response_format: model.defaultResponseFormat,
      output_formats: model.outputFormats.length > 0 ? model.outputFormats : [model.nativeFormat],
      output_format_selectable: model.outputFormats.length > 0,
      backgrounds: model.backgrounds,
      moderation: model.takesModeration,
      streaming: model.streaming,
      edits: model.edit !== null,
      edit_input:
        model.edit === null
          ? null
          : {
              formats: model.edit.formats,
              max_images: model.edit.maxImages,
              max_file_bytes: model.edit.maxFileBytes,
              square: model.edit.square,
              json: model.edit.json,
              input_fidelities: model.edit.inputFidelities,
            },
      variations: model.variations,
      seed: model.extras.seed,
      negative_prompt_max_chars: model.extras.negativePromptMaxChars,
      usage_reported: model.tokens !== null,
      price: describePrice(model),
    },
  };
}

function describeSizes(rule: SizeRule) {
  switch (rule.kind) {
    case 'list':
      return { sizes: [...rule.sizes, ...(rule.acceptsAuto ? ['auto'] : [])], size_aliases: rule.aliases ?? {} };
    case 'free':
      return {
        sizes: [...rule.commonSizes, 'auto'],
        size_rule: {
          multiple_of: rule.multipleOf,
          max_edge_px: rule.maxEdgePx,
          min_pixels: rule.minPixels,
          max_pixels: rule.maxPixels,
          max_aspect_ratio: rule.maxAspectRatio,
        },
      };
    case 'aspect':
      // Any WxH is taken (mapped to the nearest ratio and tier); these name the model's own choices.
      return {
        sizes: ['auto'],
        aspect_ratios: rule.ratios,
        resolutions: Object.keys(rule.tiers),
        default_aspect_ratio: rule.defaultRatio,
        default_resolution: rule.defaultTier,
      };
  }
}

function describePrice(model: ModelSpec) {
  const { price } = model;
  return price.kind === 'per_image'
    ? { kind: price.kind, usd_per_image: price.usdPerImage, source: model.priceSource }
    : {
        kind: price.kind,
        usd_per_million_text_input: price.usdPerMillionTextInput,
        usd_per_million_image_input: price.usdPerMillionImageInput,
        usd_per_million_image_output: price.usdPerMillionImageOutput,
        source: model.priceSource,
      };
}
