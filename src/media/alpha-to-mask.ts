import sharp from 'sharp';

/** Far above any mask a client may send (4 MB PNG), as in the media step: bombs fail fast. */
const MAX_INPUT_PIXELS = 64_000_000;

/** A black-and-white mask made from an image's alpha channel. */
export interface WhiteMask {
  /** A one-channel PNG: 255 where the input was fully transparent, 0 everywhere else. */
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
  /** How many pixels are white (to be repainted); 0 when the input had no transparent pixel. */
  readonly whitePixels: number;
}

/**
 * OpenAI's mask marks the area to edit with fully transparent pixels (alpha 0); inpainting
 * services that take a grayscale mask (Stability's Inpaint: "completely black pixels represent
 * no inpainting strength while completely white pixels represent maximum strength") want the
 * same area white. Partly transparent pixels stay black, as OpenAI edits only where alpha is 0.
 * An image without an alpha channel gives an all-black mask.
 */
export async function transparentToWhiteMask(image: Buffer): Promise<WhiteMask> {
  const { data, info } = await sharp(image, { limitInputPixels: MAX_INPUT_PIXELS }).autoOrient().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  // Alpha is the last channel, whether the input is grey + alpha (2) or RGBA (4).
  const stride = info.channels;
  const mask = Buffer.alloc(info.width * info.height);
  let whitePixels = 0;
  for (let pixel = 0, alpha = stride - 1; pixel < mask.length; pixel += 1, alpha += stride) {
    if (data[alpha] === 0) {
      mask[pixel] = 255;
      whitePixels += 1;
    }
  }
  const png = await sharp(mask, { raw: { width: info.width, height: info.height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  return { png, width: info.width, height: info.height, whitePixels };
}
