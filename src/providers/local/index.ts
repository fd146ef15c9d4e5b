import { z } from 'zod';
import type { ModelSpec } from '../../catalog/index.ts';
import { mimeOf } from '../../media/sniff.ts';
import type { ProviderAdapter, ProviderImage } from '../types.ts';
import { localEdit } from './edit.ts';
import { emitPartials } from './partials.ts';
import { planRender, renderImage } from './render.ts';
import { revisePrompt } from './revised-prompt.ts';
import { localVariation } from './variation.ts';

/*
 * The built-in renderer (DESIGN.md, "The built-in local provider"): a deterministic procedural
 * landscape painter, not a neural model. It needs no key and no network, so a fresh install
 * answers real requests, and it honours every contract parameter for real: exact size, `n`
 * distinct images, png/jpeg/webp with compression, transparent background, quality, style.
 */

/**
 * Images whose encoding may run at once while the next is painted: two keeps libvips busy
 * without holding `n` full-size buffers in memory.
 */
const ENCODES_IN_FLIGHT = 2;

/** The renderer has no options. */
const LocalOptionsSchema = z.strictObject({});

export const localProvider: ProviderAdapter<z.infer<typeof LocalOptionsSchema>> = {
  id: 'local',
  optionsSchema: LocalOptionsSchema,
  // It paints any model's request: every size rule, format and field is honoured for real.
  serves: () => true,

  // The whole request in one call: each image's seed includes its index within the request, and
  // a request split into parts would repeat index 0 in every part.
  maxImagesPerCall: (model: ModelSpec) => model.maxN,

  async generate(request, ctx) {
    const plan = planRender(request);
    const revisedPrompt = request.model.revisesPrompt ? revisePrompt(plan.scene, request.style, request.prompt) : undefined;
    const encodes: Promise<Buffer>[] = [];
    for (let index = 0; index < request.n; index += 1) {
      ctx.signal.throwIfAborted();
      const earlier = encodes[index - ENCODES_IN_FLIGHT];
      if (earlier !== undefined) await earlier;
      ctx.signal.throwIfAborted();
      const encode = renderImage(plan, index);
      // Marked handled now: if an abort ends the loop early, a later failure is not "unhandled".
      encode.catch(() => undefined);
      encodes.push(encode);
    }
    const mime = mimeOf(request.outputFormat);
    const images: ProviderImage[] = (await Promise.all(encodes)).map((bytes) =>
      revisedPrompt === undefined ? { bytes, mime } : { bytes, mime, revisedPrompt },
    );
    if (request.stream && ctx.onPartial !== undefined && request.partialImages > 0) {
      await emitPartials(
        request,
        images.map((image) => image.bytes),
        ctx.onPartial,
      );
    }
    return { images };
  },

  async edit(request, ctx) {
    const result = await localEdit(request, ctx);
    if (request.stream && ctx.onPartial !== undefined && request.partialImages > 0) {
      await emitPartials(
        request,
        result.images.map((image) => image.bytes),
        ctx.onPartial,
      );
    }
    return result;
  },
  variation: async (request, ctx) => localVariation(request, ctx),
};
