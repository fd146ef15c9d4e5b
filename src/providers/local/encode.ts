import sharp from 'sharp';
import type { Dimensions, OutputFormat } from '../../catalog/index.ts';
import { withEncoder } from '../../media/encoder.ts';
import type { Canvas } from './canvas.ts';

/**
 * Scales a painted canvas to the exact requested size and encodes it, in one libvips pipeline.
 * Painting at a fraction of the size and letting libvips enlarge it is what makes low quality
 * fast: the JavaScript loops touch a sixteenth of the pixels, and a smooth enlargement of a
 * painterly picture looks like a softer picture, not like a blocky one.
 *
 * The enlargement is pixel replication followed by a Gaussian blur of about half the scale
 * factor, which looks like a bilinear enlargement (a blur of replicated blocks is a smooth ramp
 * between their centres). Measured at 256 → 1024 (bench/local-render.ts): libvips' `linear`
 * resize kernel costs about twice a whole JPEG encode, replication plus an integer blur a fifth
 * of one.
 */
export async function encodeCanvas(canvas: Canvas, size: Dimensions, format: OutputFormat, compressionPct: number): Promise<Buffer> {
  const { data, width, height, channels } = canvas;
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pipeline = sharp(raw, { raw: { width, height, channels } });
  if (width !== size.width || height !== size.height) {
    // `fill`: the canvas already has the target's aspect ratio, up to a rounding pixel.
    const factor = Math.max(size.width / width, size.height / height);
    pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'nearest' });
    if (factor > 1.25) pipeline = pipeline.blur(Math.max(0.5, factor * BLUR_SIGMA_PER_SCALE));
  }
  return withEncoder(pipeline, format, compressionPct).toBuffer();
}

/**
 * Blur sigma per unit of enlargement: 0.5 leaves no visible trace of the replicated blocks (their
 * period's amplitude falls below 1%) while keeping edges as sharp as a bilinear enlargement.
 */
const BLUR_SIGMA_PER_SCALE = 0.5;
