import type { FastifyInstance } from 'fastify';
import type { Catalog, ModelSpec } from '../catalog/index.ts';
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
    data: deps.catalog.all().map((model) => describeModel(model, deps)),
  }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    const model = deps.catalog.get(request.params.id);
    if (model === undefined) {
      throw new GatewayError('model_not_found', `The model '${request.params.id}' does not exist.`, { param: 'model' });
    }
    return describeModel(model, deps);
  });
}

function describeModel(model: ModelSpec, deps: ModelsRouteDeps) {
  const sizes =
    model.size.kind === 'list'
      ? { sizes: [...model.size.sizes, ...(model.size.acceptsAuto ? ['auto'] : [])], size_aliases: model.size.aliases ?? {} }
      : {
          sizes: [...model.size.commonSizes, 'auto'],
          size_rule: {
            multiple_of: model.size.multipleOf,
            max_edge_px: model.size.maxEdgePx,
            min_pixels: model.size.minPixels,
            max_pixels: model.size.maxPixels,
            max_aspect_ratio: model.size.maxAspectRatio,
          },
        };
  return {
    id: model.id,
    object: 'model',
    created: deps.createdSeconds,
    owned_by: model.ownedBy,
    imagegate: {
      provider: deps.router.providerFor(model),
      ...sizes,
      default_size: model.size.autoSize,
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
      edits: model.edits,
      variations: model.variations,
      usage_reported: model.tokens !== null,
    },
  };
}
