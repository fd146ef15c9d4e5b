import sharp from 'sharp';

/*
 * Masked edits on upstreams that take no mask (Gemini redraws the whole picture): the gateway
 * keeps OpenAI's promise itself. OpenAI's mask is "an additional image whose fully transparent
 * areas (e.g. where alpha is zero) indicate where image should be edited" (CreateImageEditRequest):
 * there the upstream's picture is used, everywhere else the original's pixels are kept exactly,
 * alpha included. Partly transparent mask pixels are "outside" too, so nothing the mask did not
 * free ever changes.
 */

/** Decompression bombs fail fast, as in the media step. */
const MAX_INPUT_PIXELS = 64_000_000;

export interface Composited {
  /** A PNG (lossless, so kept pixels stay identical) at the original's displayed size. */
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
}

/**
 * The original with the edited picture painted in where the mask is fully transparent. The
 * edited picture is scaled to the original's size first (stretched, not cropped: an upstream that
 * picks its own aspect ratio near the original's redraws the whole frame, so stretching keeps its
 * content where the original's was). The mask is scaled without smoothing when its size differs.
 * The result has an alpha channel only when the original has one.
 */
export async function compositeOutsideMask(images: { original: Buffer; mask: Buffer; edited: Buffer }): Promise<Composited> {
  const originalMeta = await sharp(images.original, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  const { width, height } = originalMeta.autoOrient;
  const [original, alpha, edited] = await Promise.all([
    rgba(images.original, width, height, 'cubic'),
    maskAlpha(images.mask, width, height),
    rgba(images.edited, width, height, 'cubic'),
  ]);
  const out = Buffer.from(original);
  for (let pixel = 0, i = 0; pixel < alpha.length; pixel += 1, i += 4) {
    if (alpha[pixel] !== 0) continue;
    out[i] = edited[i] ?? 0;
    out[i + 1] = edited[i + 1] ?? 0;
    out[i + 2] = edited[i + 2] ?? 0;
    out[i + 3] = edited[i + 3] ?? 255;
  }
  let pipeline = sharp(out, { raw: { width, height, channels: 4 } });
  if (originalMeta.hasAlpha !== true) pipeline = pipeline.removeAlpha();
  const bytes = await pipeline.png().toBuffer();
  return { bytes, width, height };
}

/** 8-bit sRGB RGBA pixels as displayed (EXIF orientation applied), at `width`x`height`. */
async function rgba(bytes: Buffer, width: number, height: number, kernel: 'cubic' | 'nearest'): Promise<Buffer> {
  let pipeline = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).autoOrient();
  const meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  if (meta.autoOrient.width !== width || meta.autoOrient.height !== height) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel });
  return pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer();
}

/** The mask's alpha, one byte a pixel; scaled with the nearest pixel, so "alpha 0" stays exact. */
async function maskAlpha(bytes: Buffer, width: number, height: number): Promise<Buffer> {
  const pixels = await rgba(bytes, width, height, 'nearest');
  const alpha = Buffer.alloc(width * height);
  for (let pixel = 0; pixel < alpha.length; pixel += 1) alpha[pixel] = pixels[pixel * 4 + 3] ?? 255;
  return alpha;
}
