import type { ModelSpec } from '../../catalog/index.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { Semaphore } from '../../http/semaphore.ts';
import { transparentToWhiteMask } from '../../media/alpha-to-mask.ts';
import { callUpstream, type UpstreamResponse } from '../shared/call-upstream.ts';
import type { ProviderAdapter, ProviderCall, ProviderResult } from '../types.ts';
import { type Automatic1111Options, Automatic1111OptionsSchema } from './options.ts';
import { streamPreviews } from './previews.ts';
import { authHeaders, commonFields, readAnswer } from './wire.ts';

/**
 * AUTOMATIC1111's Stable Diffusion web UI API, which Forge and SD.Next serve too (provider notes
 * §8a; modules/api/api.py): `POST /sdapi/v1/txt2img` and `/sdapi/v1/img2img` answer synchronously
 * with base64 images. No default base URL: the engine runs on the operator's machine (e.g.
 * `http://127.0.0.1:7860`, started with `--api`; the channel sets `local: true` for a private
 * address). `models` maps a catalog id to a checkpoint title, sent as
 * `override_settings.sd_model_checkpoint`.
 *
 * Streaming: while the job runs, `/sdapi/v1/progress` previews become real partial images.
 * A job the gateway abandons (client gone, attempt timed out) is stopped with
 * `POST /sdapi/v1/interrupt`, or it would hold the GPU for its remaining steps.
 *
 * The engine runs one job at a time (api.py `queue_lock`), and its progress and interrupt routes
 * name no job: they are about whatever runs. So this process sends one job at a time per channel
 * (the engine would queue the others anyway), which keeps previews and interrupts about the
 * gateway's own job, as long as the gateway is the server's only client.
 */
export const automatic1111Provider: ProviderAdapter<Automatic1111Options> = {
  id: 'automatic1111',
  optionsSchema: Automatic1111OptionsSchema,
  // A self-hosted engine loads whatever checkpoint the operator names: any model can be one.
  serves: () => true,
  maxImagesPerCall: (model: ModelSpec, options: Automatic1111Options) => Math.min(model.maxN, options.maxBatchSize),

  async generate(request, call) {
    return runJob('/sdapi/v1/txt2img', commonFields(request, call), request, call);
  },

  async edit(request, call) {
    const image = request.images[0];
    if (image === undefined) throw new GatewayError('missing_required_parameter', "Missing required parameter: 'image'.", { param: 'image' });
    const body: Record<string, unknown> = {
      ...commonFields(request, call),
      init_images: [image.bytes.toString('base64')],
      denoising_strength: call.options.denoisingStrength,
    };
    const mask = await inpaintMask(request);
    if (mask !== null) {
      body['mask'] = mask.toString('base64');
      // Start the masked area from the picture that is there (`inpainting_fill` 1, "original",
      // the web UI's default), not from noise: an edit, as OpenAI's are, changes what it sees.
      body['inpainting_fill'] = 1;
    }
    return runJob('/sdapi/v1/img2img', body, request, call);
  },
};

/** One job at a time per channel in this process (see the adapter's comment). */
const channelLocks = new Map<string, Semaphore>();

function lockFor(channelId: string): Semaphore {
  let lock = channelLocks.get(channelId);
  if (lock === undefined) {
    lock = new Semaphore(1);
    channelLocks.set(channelId, lock);
  }
  return lock;
}

/** How long the best-effort interrupt may take: the engine answers it at once. */
const INTERRUPT_TIMEOUT_MS = 5000;

async function runJob(path: string, body: Record<string, unknown>, request: ImageParams, call: ProviderCall<Automatic1111Options>): Promise<ProviderResult> {
  const { channel } = call;
  const release = await lockFor(channel.id).acquire(call.signal);
  const headers = { 'content-type': 'application/json', accept: 'application/json', ...authHeaders(channel, call.options) };
  const finished = new AbortController();
  const onAbort = (): void => interrupt(call);
  call.signal.addEventListener('abort', onAbort, { once: true });
  const onPartial = call.onPartial;
  const previews =
    request.stream && onPartial !== undefined && request.partialImages > 0 ? streamPreviews(request, call, onPartial, finished.signal) : Promise.resolve();
  let response: UpstreamResponse;
  try {
    response = await callUpstream(channel, { method: 'POST', url: `${channel.baseUrl}${path}`, headers, body: JSON.stringify(body), signal: call.signal });
  } finally {
    // The job is over (answered, failed or abandoned): no interrupt for it after this, and no
    // partial image after its final images.
    call.signal.removeEventListener('abort', onAbort);
    finished.abort();
    await previews;
    release();
  }
  return readAnswer(response, request, call);
}

/**
 * Tells the engine to stop the job the gateway gave up on (api.py `interruptapi`: the current
 * job ends at its next step and answers with what it has, which nobody reads). Best effort.
 */
function interrupt(call: ProviderCall<Automatic1111Options>): void {
  const { channel } = call;
  call.logger.info({ requestId: call.requestId, channel: channel.id }, 'interrupting the abandoned job');
  callUpstream(channel, {
    method: 'POST',
    url: `${channel.baseUrl}/sdapi/v1/interrupt`,
    headers: { accept: 'application/json', ...authHeaders(channel, call.options) },
    signal: AbortSignal.timeout(INTERRUPT_TIMEOUT_MS),
  }).catch(() => undefined);
}

/**
 * The mask img2img reads (A1111 inpaints where the mask is white, `inpainting_mask_invert` 0):
 * white where OpenAI's mask is fully transparent. Without a mask, the image's own transparent
 * pixels mark the area, as dall-e-2 reads them; an image without any is reworked whole (plain
 * img2img, as gpt-image edits are). A mask with nothing transparent is refused before the GPU
 * spends a job on handing the picture back.
 */
async function inpaintMask(request: EditRequest): Promise<Buffer | null> {
  const image = request.images[0];
  if (request.mask === null) {
    if (image === undefined) return null;
    const own = await transparentToWhiteMask(image.bytes);
    return own.whitePixels > 0 ? own.png : null;
  }
  const mask = await transparentToWhiteMask(request.mask.bytes);
  if (mask.whitePixels === 0) {
    throw new GatewayError('invalid_value', "Invalid file 'mask': it has no fully transparent pixel, so there is nothing to edit.", { param: 'mask' });
  }
  return mask.png;
}
