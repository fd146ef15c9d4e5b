import { z } from 'zod';
import type { Dimensions } from '../../catalog/index.ts';

/**
 * The only sizes qwen-image, -plus and -max draw; DashScope says they "must strictly match"
 * (provider notes §2, "Sizes / limits"). The catalog already maps OpenAI sizes onto this list.
 */
const FIXED_SIZES: readonly Dimensions[] = [
  { width: 1664, height: 928 },
  { width: 1472, height: 1104 },
  { width: 1328, height: 1328 },
  { width: 1104, height: 1472 },
  { width: 928, height: 1664 },
];

/** qwen-image-2.0/-pro and 3.0/-pro take any size within a pixel budget (provider notes §2). */
const FREE_SIZE_MODEL = /^qwen-image-[2-9]\./;

/**
 * The size to ask the upstream model for. Free-size models get the requested size as is; the
 * fixed-list models get it when listed, else the listed size of the nearest aspect ratio
 * (|log r − log rᵢ| smallest, provider notes §10.1), so a catalog size the list lacks still draws.
 */
export function upstreamSize(requested: Dimensions, upstreamModel: string): Dimensions {
  if (FREE_SIZE_MODEL.test(upstreamModel)) return requested;
  const listed = FIXED_SIZES.find((s) => s.width === requested.width && s.height === requested.height);
  if (listed !== undefined) return listed;
  const distance = (size: Dimensions): number => Math.abs(Math.log(size.width / size.height) - Math.log(requested.width / requested.height));
  return FIXED_SIZES.reduce((best, size) => (distance(size) < distance(best) ? size : best));
}

/** DashScope writes sizes `W*H`, with an asterisk where OpenAI has an `x`. */
export function wireSize(size: Dimensions): string {
  return `${size.width}*${size.height}`;
}

/**
 * The size the sync API says it delivered: `usage.width/height` (qwen-image-max), or
 * `usage.output_width/output_height` (2.x models, per litellm's dashscope transformation). Shapes
 * vary by model, so anything else is no claim at all and the media step measures the image.
 */
export function reportedSize(usage: unknown): Dimensions | undefined {
  const parsed = ReportedSizeSchema.safeParse(usage);
  if (!parsed.success) return undefined;
  const width = parsed.data.width ?? parsed.data.output_width;
  const height = parsed.data.height ?? parsed.data.output_height;
  return width === undefined || height === undefined ? undefined : { width, height };
}

const Edge = z.number().int().min(1).max(16_384).optional();
const ReportedSizeSchema = z.looseObject({ width: Edge, height: Edge, output_width: Edge, output_height: Edge });
