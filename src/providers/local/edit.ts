import sharp from 'sharp';
import type { Dimensions, OutputFormat } from '../../catalog/index.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { withEncoder } from '../../media/encoder.ts';
import { mimeOf } from '../../media/sniff.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { planRender, renderImage } from './render.ts';

/*
 * Edits for the built-in renderer. It paints the prompt's scene at the output size (the same
 * renderer and seeding as generations: image `index` of a request gets its own scene) and
 * composites it with the first input image:
 * - with a mask: where the mask is fully transparent (alpha 0, OpenAI's rule) the new scene is
 *   painted; everywhere else the original pixels are kept exactly, alpha included;
 * - without a mask: the whole picture is repainted, the scene's colours lit by the original's
 *   light and shade and blended with it, so the result is visibly the same picture, changed.
 * Further input images are references: a share of each is blended into what is repainted.
 * `input_fidelity: high` keeps more of the original where it is repainted.
 */

/** How much of the original survives a repaint without a mask. */
const ORIGINAL_SHARE: Readonly<Record<'high' | 'low', number>> = { high: 0.6, low: 0.4 };
/** How much of a reference image is blended into repainted pixels. */
const REFERENCE_SHARE = 0.3;

interface RawPixels {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

export async function localEdit(request: EditRequest, ctx: Pick<ProviderCall<unknown>, 'signal'>): Promise<ProviderResult> {
  const size = request.size;
  const first = request.images[0];
  if (first === undefined) throw new TypeError('an edit request without images passed the contract');
  const original = await decodeRgba(first.bytes, size);
  const alpha = request.mask === null ? null : await decodeMaskAlpha(request.mask.bytes, size);
  const references = await Promise.all(request.images.slice(1).map((image) => decodeRgba(image.bytes, size, true)));
  const keepAlpha = first.hasAlpha || request.background === 'transparent';

  const plan = planRender(sceneRequest(request, size));
  const images: ProviderImage[] = [];
  for (let index = 0; index < request.n; index += 1) {
    ctx.signal.throwIfAborted();
    const scene = await decodeRgba(await renderImage(plan, index), size);
    const reference = references.length === 0 ? null : (references[index % references.length] ?? null);
    const pixels =
      alpha === null ? repaint(original, scene, reference, ORIGINAL_SHARE[request.inputFidelity ?? 'low']) : inpaint(original, scene, reference, alpha);
    const bytes = await encodeRgba(pixels, keepAlpha, request.outputFormat, request.outputCompression);
    images.push({ bytes, mime: mimeOf(request.outputFormat) });
  }
  return { images };
}

/** The scene to paint: the edit's prompt, size and seed, as a plain opaque PNG. */
function sceneRequest(request: EditRequest, size: Dimensions): ImageParams {
  return {
    model: request.model,
    prompt: request.prompt,
    n: request.n,
    size,
    askedSize: null,
    aspect: null,
    quality: request.quality,
    style: null,
    responseFormat: 'b64_json',
    outputFormat: 'png',
    outputCompression: 100,
    background: request.background,
    moderation: request.moderation,
    seed: request.seed,
    negativePrompt: null,
    user: request.user,
    stream: false,
    partialImages: 0,
    droppedParams: [],
  };
}

/** Alpha 0 in the mask: the scene (with a share of a reference). Elsewhere: the original, untouched. */
function inpaint(original: RawPixels, scene: RawPixels, reference: RawPixels | null, alpha: Buffer): RawPixels {
  const out = Buffer.from(original.data);
  const o = out;
  const s = scene.data;
  const r = reference?.data;
  for (let p = 0, i = 0; p < alpha.length; p += 1, i += 4) {
    if (alpha[p] !== 0) continue;
    for (let c = 0; c < 3; c += 1) {
      const painted = s[i + c] ?? 0;
      o[i + c] = r === undefined ? painted : Math.round(painted * (1 - REFERENCE_SHARE) + (r[i + c] ?? 0) * REFERENCE_SHARE);
    }
    o[i + 3] = s[i + 3] ?? 255;
  }
  return { ...original, data: out };
}

/**
 * No mask: every pixel repainted. The scene's colour is lit by the original's luminance (its
 * shapes and shading show through), then blended with the original itself; the original's alpha
 * is kept, so a cut-out stays cut out.
 */
function repaint(original: RawPixels, scene: RawPixels, reference: RawPixels | null, originalShare: number): RawPixels {
  const out = Buffer.alloc(original.data.length);
  const o = original.data;
  const s = scene.data;
  const r = reference?.data;
  for (let i = 0; i < o.length; i += 4) {
    const luminance = (0.2126 * (o[i] ?? 0) + 0.7152 * (o[i + 1] ?? 0) + 0.0722 * (o[i + 2] ?? 0)) / 255;
    const light = 0.45 + 0.85 * luminance;
    for (let c = 0; c < 3; c += 1) {
      let painted = Math.min(255, (s[i + c] ?? 0) * light);
      if (r !== undefined) painted = painted * (1 - REFERENCE_SHARE) + (r[i + c] ?? 0) * REFERENCE_SHARE;
      out[i + c] = Math.round((o[i + c] ?? 0) * originalShare + painted * (1 - originalShare));
    }
    out[i + 3] = o[i + 3] ?? 255;
  }
  return { ...original, data: out };
}

/**
 * RGBA pixels at `size`: oriented as displayed, enlarged or cropped (centre) to cover `size` when
 * it differs. At the same size the pixels are the file's own, bit for bit.
 */
export async function decodeRgba(bytes: Buffer, size: Dimensions, flatten = false): Promise<RawPixels> {
  let pipeline = sharp(bytes).autoOrient();
  const meta = await sharp(bytes).metadata();
  if (meta.autoOrient.width !== size.width || meta.autoOrient.height !== size.height) {
    pipeline = pipeline.resize(size.width, size.height, { fit: 'cover' });
  }
  if (flatten) pipeline = pipeline.flatten({ background: { r: 255, g: 255, b: 255 } });
  // sRGB with alpha whatever the file holds (grey, grey + alpha, 16-bit), so every pixel is 4 bytes.
  const { data, info } = await pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The mask's alpha at `size`; scaled without smoothing, so "alpha 0" stays exact. */
async function decodeMaskAlpha(bytes: Buffer, size: Dimensions): Promise<Buffer> {
  let pipeline = sharp(bytes).autoOrient();
  const meta = await sharp(bytes).metadata();
  if (meta.autoOrient.width !== size.width || meta.autoOrient.height !== size.height) {
    pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'nearest' });
  }
  return pipeline.toColourspace('srgb').ensureAlpha().extractChannel(3).raw({ depth: 'uchar' }).toBuffer();
}

/** Encodes RGBA pixels in the asked format; without alpha unless the picture needs it. */
export async function encodeRgba(pixels: RawPixels, keepAlpha: boolean, format: OutputFormat, compressionPct: number): Promise<Buffer> {
  let pipeline = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 4 } });
  if (!keepAlpha || format === 'jpeg') {
    pipeline = keepAlpha ? pipeline.flatten({ background: { r: 255, g: 255, b: 255 } }) : pipeline.removeAlpha();
  }
  return withEncoder(pipeline, format, compressionPct).toBuffer();
}
