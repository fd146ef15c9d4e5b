import sharp from 'sharp';
import type { ImageParams } from '../../contract/generation-request.ts';
import { withEncoder } from '../../media/encoder.ts';
import { callUpstream, decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { parseWire } from '../shared/upstream-errors.ts';
import type { PartialImage, ProviderCall } from '../types.ts';
import type { Automatic1111Options } from './options.ts';
import { authHeaders, PROVIDER, ProgressSchema } from './wire.ts';

/** Far above any preview (a grid of eight 2048² images), as in the media step: bombs fail fast. */
const MAX_PREVIEW_PIXELS = 64_000_000;

/** The longest one progress poll may take; the engine answers it at once, even mid-job. */
const PROGRESS_TIMEOUT_MS = 5000;

/**
 * How A1111 lays a batch out in one picture (modules/images.py `image_grid` with the default
 * `n_rows` -1): round(√n) rows, ⌈n / rows⌉ columns, images in row-major order. The live preview
 * of a batch is such a grid (setting `show_progress_grid`, on by default).
 */
export function batchGrid(n: number): { rows: number; cols: number } {
  const rows = Math.min(n, Math.max(1, Math.round(Math.sqrt(n))));
  return { rows, cols: Math.ceil(n / rows) };
}

/**
 * Cuts one live preview into the request's images. The preview may be smaller than the images
 * (the cheap approximate decoders preview at 1/8 of the size), so the layout is told by its
 * shape: a grid of the batch, or one image (`show_progress_grid` off: the first image only).
 * Anything else (another job's preview, a fork's own layout) gives nothing.
 */
async function cutPreview(preview: Buffer, request: ImageParams): Promise<{ imageIndex: number; image: sharp.Sharp }[]> {
  const meta = await sharp(preview, { limitInputPixels: MAX_PREVIEW_PIXELS }).metadata();
  const width = meta.width;
  const height = meta.height;
  if (width === undefined || height === undefined || width === 0 || height === 0) return [];
  const { rows, cols } = batchGrid(request.n);
  const ratio = width / height;
  const imageRatio = request.size.width / request.size.height;
  const near = (a: number, b: number): boolean => Math.abs(Math.log(a / b)) < 0.03;
  if (near(ratio, (imageRatio * cols) / rows)) {
    const tileWidth = Math.floor(width / cols);
    const tileHeight = Math.floor(height / rows);
    if (tileWidth === 0 || tileHeight === 0) return [];
    return Array.from({ length: request.n }, (_, imageIndex) => ({
      imageIndex,
      image: sharp(preview).extract({
        left: (imageIndex % cols) * tileWidth,
        top: Math.floor(imageIndex / cols) * tileHeight,
        width: tileWidth,
        height: tileHeight,
      }),
    }));
  }
  if (near(ratio, imageRatio)) return [{ imageIndex: 0, image: sharp(preview) }];
  return [];
}

/** A preview tile at the request's size, encoded as the final images will be (what the event carries). */
async function encodePartial(image: sharp.Sharp, request: ImageParams): Promise<string> {
  const sized = image.resize(request.size.width, request.size.height, { fit: 'fill' });
  const pipeline = request.outputFormat === 'jpeg' ? sized.flatten({ background: '#ffffff' }) : sized;
  return (await withEncoder(pipeline, request.outputFormat, request.outputCompression).toBuffer()).toString('base64');
}

/**
 * Streams real partial images while a job runs: polls `GET /sdapi/v1/progress` (api.py
 * `progressapi`; paced per channel through `call.pacer`) and turns each new `current_image` into
 * one partial image per image of the batch, at most `request.partialImages` each. Runs until
 * `done` aborts (the job's answer arrived) or the call's signal does; the caller awaits it before
 * it answers, so every partial image precedes the final ones. Previews are a courtesy: a
 * failed poll or an unreadable preview is logged and skipped, never fails the generation.
 */
export async function streamPreviews(
  request: ImageParams,
  call: ProviderCall<Automatic1111Options>,
  onPartial: (partial: PartialImage) => void,
  done: AbortSignal,
): Promise<void> {
  const waiting = AbortSignal.any([call.signal, done]);
  const { channel, options } = call;
  const headers = { accept: 'application/json', ...authHeaders(channel, options) };
  let sent = 0;
  let last: string | undefined;
  while (sent < request.partialImages && !waiting.aborted) {
    try {
      await call.pacer.awaitSlot(`${channel.id}:progress`, options.progressIntervalMs, waiting);
      // A poll under way when the job answers is read to its end (bounded by its own timeout):
      // the preview it brings is still from before the final images, and goes out before them.
      const signal = AbortSignal.any([call.signal, AbortSignal.timeout(PROGRESS_TIMEOUT_MS)]);
      const response = await callUpstream(channel, { method: 'GET', url: `${channel.baseUrl}/sdapi/v1/progress`, headers, signal });
      if (response.status !== 200) {
        call.logger.debug({ requestId: call.requestId, channel: channel.id, upstreamStatus: response.status }, 'progress poll failed');
        continue;
      }
      const progress = parseWire(PROVIDER, ProgressSchema, parseJson(PROVIDER, response.text), 'the progress answer');
      const current = progress.current_image;
      // The server keeps the last preview until the next one: the same text is no new partial.
      if (current === null || current === undefined || current === '' || current === last) continue;
      last = current;
      const tiles = await cutPreview(decodeBase64Image(PROVIDER, current), request);
      if (tiles.length === 0) continue;
      const encoded = await Promise.all(tiles.map(async ({ imageIndex, image }) => ({ imageIndex, base64: await encodePartial(image, request) })));
      for (const { imageIndex, base64 } of encoded) onPartial({ imageIndex, partialIndex: sent, base64 });
      sent += 1;
    } catch (err) {
      if (waiting.aborted) return;
      const message = err instanceof Error ? err.message : 'unknown failure';
      call.logger.debug({ requestId: call.requestId, channel: channel.id, err: message }, 'progress preview skipped');
    }
  }
}
