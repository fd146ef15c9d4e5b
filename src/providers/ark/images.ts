import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import type { ProviderCall, ProviderResult } from '../types.ts';
import { type ArkImage, callArk } from './call-ark.ts';
import type { ArkOptions } from './options.ts';
import { type ArkAsk, MAX_PICTURES_PER_REQUEST } from './wire.ts';

/** Top-up calls one request keeps in flight at once (a short set of 15 needs up to 14 of them). */
const TOP_UP_CONCURRENCY = 4;

/**
 * Exactly `params.n` pictures from Ark, drawn from the prompt and, for edits, the reference images.
 *
 * `n` > 1 is asked as one set (`sequential_image_generation: "auto"`, `max_images`: `n`, at most
 * 15 less the references). Ark treats `max_images` as a ceiling, not an order: the model makes as
 * many pictures as the prompt describes ("generate a set of four …"), often just one. The router
 * fails any answer short of `n` and retries the whole call, which would pay Ark again for every
 * picture already made and, since the prompt decides, most likely come back short again. So the
 * pictures that arrived are kept and the shortfall is topped up with single-picture calls, in
 * parallel (TOP_UP_CONCURRENCY at a time): the client gets `n` pictures and is charged for `n`,
 * which is exactly what Ark delivered and bills (`usage.generated_images` per call).
 * If any call fails, the others are cancelled and the request fails as a whole.
 */
export async function makeImages(params: ImageParams, references: readonly InputImage[], call: ProviderCall<ArkOptions>): Promise<ProviderResult> {
  const setLimit = Math.max(1, MAX_PICTURES_PER_REQUEST - references.length);
  const perSet = call.options.sequentialImageGeneration === 'disabled' ? 1 : setLimit;
  const ask = (maxImages: number): ArkAsk => ({ prompt: params.prompt, size: params.size, maxImages, references });

  const first = await callArk(ask(Math.min(params.n, perSet)), call, call.signal);
  const missing = params.n - first.length;
  let rest: ArkImage[] = [];
  if (missing > 0) {
    call.logger.debug({ requestId: call.requestId, channel: call.channel.id, asked: params.n, delivered: first.length }, 'ark set short of n; topping up');
    rest = await inParallel(missing, TOP_UP_CONCURRENCY, call.signal, async (signal) => callArk(ask(1), call, signal));
  }
  const all = [...first, ...rest];
  const delivered = all[0]?.size ?? null;
  return { images: all.map((made) => made.image), ...(delivered === null ? {} : { deliveredSize: delivered }) };
}

/**
 * Runs `count` calls, `concurrency` at a time, each on a signal that aborts when `signal` does or
 * when another call fails (the first failure is what the caller sees).
 */
async function inParallel(count: number, concurrency: number, signal: AbortSignal, run: (signal: AbortSignal) => Promise<ArkImage[]>): Promise<ArkImage[]> {
  const controller = new AbortController();
  const shared = AbortSignal.any([signal, controller.signal]);
  const results: ArkImage[][] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      results.push(await run(shared));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    controller.abort(err);
    throw err;
  }
  return results.flat();
}
