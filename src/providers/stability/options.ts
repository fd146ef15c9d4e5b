import { z } from 'zod';

/**
 * Stability's `style_preset` values (API reference, Generate Core / SD3 / Ultra and Inpaint:
 * "Guides the image model towards a particular style").
 */
export const STYLE_PRESETS = [
  '3d-model',
  'analog-film',
  'anime',
  'cinematic',
  'comic-book',
  'digital-art',
  'enhance',
  'fantasy-art',
  'isometric',
  'line-art',
  'low-poly',
  'modeling-compound',
  'neon-punk',
  'origami',
  'photographic',
  'pixel-art',
  'tile-texture',
] as const;

/**
 * The channel options a Stability channel reads:
 * - `stylePreset`: sent as `style_preset` with every generation and edit on the channel (OpenAI's
 *   API has no such field, so it is the operator's choice per channel, not the client's); absent,
 *   Stability applies none.
 */
export const StabilityOptionsSchema = z.strictObject({
  stylePreset: z.enum(STYLE_PRESETS).optional(),
});

export type StabilityOptions = z.infer<typeof StabilityOptionsSchema>;
