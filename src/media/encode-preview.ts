import sharp from 'sharp';
import type { Dimensions, OutputFormat } from '../catalog/index.ts';
import { withEncoder } from './encoder.ts';

/**
 * An upstream's progress preview (a small JPEG or PNG of the picture being drawn, as ComfyUI and
 * AUTOMATIC1111 send them) as a streamed `partial_image`: scaled to the size the final image will
 * have and encoded like it (format, compression), since a client decodes partials and the final
 * image alike. JPEG has no alpha, so it is flattened on white as the final image would be.
 */
export async function encodePreview(
  bytes: Buffer,
  target: { readonly size: Dimensions; readonly format: OutputFormat; readonly compressionPct: number },
): Promise<string> {
  const resized = sharp(bytes).resize(target.size.width, target.size.height, { fit: 'fill' });
  const pipeline = target.format === 'jpeg' ? resized.flatten({ background: '#ffffff' }) : resized;
  const encoded = await withEncoder(pipeline, target.format, target.compressionPct).toBuffer();
  return encoded.toString('base64');
}
