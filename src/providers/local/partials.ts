import sharp from 'sharp';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import type { PartialImage } from '../types.ts';

/**
 * Progressive previews of a finished image, coarse to fine, like a diffusion model's partial
 * images: partial k of P is the picture seen at 1/2^(P-k+1) of its resolution and scaled back to
 * full size, so the first is a blur of colour fields and each next one sharper. They are encoded
 * like the final image (format, compression, alpha).
 */
export async function emitPartials(request: GenerationRequest, images: readonly Buffer[], onPartial: (partial: PartialImage) => void): Promise<void> {
  const count = Math.min(3, Math.max(0, request.partialImages));
  const { width, height } = request.size;
  for (const [imageIndex, image] of images.entries()) {
    for (let partialIndex = 0; partialIndex < count; partialIndex += 1) {
      const factor = 2 ** (count - partialIndex + 1);
      const coarse = await sharp(image)
        .resize(Math.max(1, Math.round(width / factor)), Math.max(1, Math.round(height / factor)), { kernel: 'cubic' })
        .toBuffer();
      let pipeline = sharp(coarse).resize(width, height, { kernel: 'cubic' });
      if (request.outputFormat === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: clampQuality(request.outputCompression) });
      else if (request.outputFormat === 'webp') pipeline = pipeline.webp({ quality: clampQuality(request.outputCompression) });
      else pipeline = pipeline.png({ compressionLevel: 3 });
      const bytes = await pipeline.toBuffer();
      onPartial({ imageIndex, partialIndex, base64: bytes.toString('base64') });
    }
  }
}

function clampQuality(compressionPct: number): number {
  return Math.min(100, Math.max(1, Math.round(compressionPct)));
}
