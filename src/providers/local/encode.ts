import sharp from 'sharp';
import type { Dimensions, OutputFormat } from '../../catalog/index.ts';
import { withEncoder } from '../../media/encoder.ts';
import type { Canvas } from './canvas.ts';
import { releaseBuffer } from './buffer-pool.ts';
import { doubleCanvas } from './double.ts';

/**
 * Enlarges a painted canvas by its whole `factor` to the exact requested size and encodes it.
 * Painting at a fraction of the size is what makes the lower qualities fast: the JavaScript
 * loops touch a quarter or a sixteenth of the pixels, and a smooth enlargement of a painterly
 * picture looks like a softer picture, not like a blocky one.
 *
 * How it enlarges is chosen by cost, measured at 1024x1024 against the encode itself (see
 * bench/local-render.ts; a JPEG encode there is about 10 ms):
 * - libvips' smooth resize kernels (`linear`, `cubic` …) cost two to four JPEG encodes, so they
 *   are not used;
 * - libvips' pixel replication is cheap (under a tenth of an encode), and a Gaussian blur of half
 *   the factor after it turns the replicated blocks into smooth ramps (a blurred staircase is a
 *   ramp) for about a third of an encode. Factor 2 does this;
 * - factor 4 doubles in JavaScript first (bilinear, `doubleCanvas`, about a tenth of an encode),
 *   then lets libvips replicate each pixel into 2x2 without a blur: edges keep a 2-pixel step,
 *   invisible at viewing size, and the blur pass is saved where speed matters most.
 *
 * Takes the canvas over: its buffer goes back to the pool once encoded.
 */
export async function encodeCanvas(painted: Canvas, factor: number, size: Dimensions, format: OutputFormat, compressionPct: number): Promise<Buffer> {
  let canvas = painted;
  if (factor === 4) {
    canvas = doubleCanvas(painted);
    releaseBuffer(painted.data.buffer);
  }
  try {
    return await encode(canvas, factor, size, format, compressionPct);
  } finally {
    // sharp is done with the pixels once its promise settles.
    releaseBuffer(canvas.data.buffer);
  }
}

async function encode(canvas: Canvas, factor: number, size: Dimensions, format: OutputFormat, compressionPct: number): Promise<Buffer> {
  const replicate = factor === 4 ? 2 : factor;
  const { data, width, height, channels } = canvas;
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pipeline = sharp(raw, { raw: { width, height, channels } });
  if (replicate > 1) {
    pipeline = pipeline.resize(width * replicate, height * replicate, { kernel: 'nearest' });
    if (factor === 2) pipeline = pipeline.blur(factor * BLUR_SIGMA_PER_FACTOR);
  }
  // The canvas is `size / factor` rounded up: enlarged, it may overhang by a few pixels on the
  // right and bottom, which are cut off.
  if (width * replicate !== size.width || height * replicate !== size.height) {
    pipeline = pipeline.extract({ left: 0, top: 0, width: size.width, height: size.height });
  }
  return withEncoder(pipeline, format, compressionPct).toBuffer();
}

/**
 * Blur sigma per unit of enlargement: 0.5 leaves no visible trace of the replicated blocks (their
 * period's amplitude falls below 1%) while keeping edges as sharp as a bilinear enlargement.
 */
const BLUR_SIGMA_PER_FACTOR = 0.5;
