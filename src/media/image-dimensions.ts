import sharp from 'sharp';
import type { Dimensions } from '../catalog/index.ts';

/**
 * The pixel size an encoded image declares in its header (no decoding), or null when the bytes
 * are not an image sharp reads. For upstreams that pick their own pixels and do not say which
 * (Replicate's FLUX models draw an aspect ratio at about one megapixel): the adapter reports
 * what it received as the delivered size instead of letting the media step stretch it to the
 * size asked.
 */
export async function imageDimensions(bytes: Buffer): Promise<Dimensions | null> {
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    return meta.width > 0 && meta.height > 0 ? { width: meta.width, height: meta.height } : null;
  } catch {
    return null;
  }
}
