import sharp from 'sharp';
import type { ImageParams } from '../../contract/generation-request.ts';
import { withEncoder } from '../../media/encoder.ts';
import type { PartialImage } from '../types.ts';

/**
 * Progressive previews of a finished image, coarse to fine, like a diffusion model's partial
 * images: partial k of P is the picture seen at 1/2^(P-k+1) of its resolution and scaled back to
 * full size, so the first is a blur of colour fields and each next one sharper. They are encoded
 * like the final image (format, compression, alpha).
 */
export async function emitPartials(request: ImageParams, images: readonly Buffer[], onPartial: (partial: PartialImage) => void): Promise<void> {
  const count = Math.min(3, Math.max(0, request.partialImages));
  const { width, height } = request.size;
  for (const [imageIndex, image] of images.entries()) {
    for (let partialIndex = 0; partialIndex < count; partialIndex += 1) {
      const factor = 2 ** (count - partialIndex + 1);
      // Whole-number factors with the plain kernels keep libvips on its fast path (a smooth
      // `cubic` enlargement costs several encodes); the blur hides the blockiness.
      const coarse = await sharp(image)
        .resize(Math.max(1, Math.round(width / factor)), Math.max(1, Math.round(height / factor)), { kernel: 'nearest' })
        .toBuffer();
      const enlarged = sharp(coarse)
        .resize(width, height, { kernel: 'nearest' })
        .blur(Math.max(0.3, factor / 3));
      const bytes = await withEncoder(
        request.outputFormat === 'jpeg' ? enlarged.flatten({ background: '#ffffff' }) : enlarged,
        request.outputFormat,
        request.outputCompression,
      ).toBuffer();
      onPartial({ imageIndex, partialIndex, base64: bytes.toString('base64') });
    }
  }
}
