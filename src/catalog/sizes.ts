import { type AspectChoice, aspectSize, nearestAspect } from './aspect.ts';
import type { Dimensions, SizeRule } from './types.ts';

const SIZE_PATTERN = /^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$/;

/** Parses `WxH`; anything else (including `auto`) is null. */
export function parseSize(text: string): Dimensions | null {
  const match = SIZE_PATTERN.exec(text);
  if (match === null) return null;
  return { width: Number(match[1]), height: Number(match[2]) };
}

export function formatSize(size: Dimensions): string {
  return `${size.width}x${size.height}`;
}

/**
 * Either the resolved size (with, for aspect-ratio models, the ratio and tier it maps to), or why
 * the asked size is refused (a sentence a person can act on).
 */
export type SizeResolution = { ok: true; size: Dimensions; aspect: AspectChoice | null } | { ok: false; reason: string };

/** Resolves what a client asked for (`undefined`/`auto`/`WxH`) against a model's size rule. */
export function resolveSize(modelId: string, rule: SizeRule, asked: string | undefined): SizeResolution {
  if (rule.kind === 'aspect') return resolveAspectSize(modelId, rule, asked);
  if (asked === undefined || (asked === 'auto' && (rule.kind === 'free' || rule.acceptsAuto))) {
    return { ok: true, size: mustParse(rule.autoSize), aspect: null };
  }
  if (rule.kind === 'list') {
    const target = rule.sizes.includes(asked) ? asked : rule.aliases?.[asked];
    if (target !== undefined) return { ok: true, size: mustParse(target), aspect: null };
    const accepted = [...rule.sizes, ...Object.keys(rule.aliases ?? {}), ...(rule.acceptsAuto ? ['auto'] : [])];
    return { ok: false, reason: `${modelId} supports ${accepted.join(', ')}` };
  }
  const size = parseSize(asked);
  if (size === null) {
    return { ok: false, reason: `${modelId} takes 'auto' or a size written WIDTHxHEIGHT, such as 1536x1024` };
  }
  const { width, height } = size;
  if (width % rule.multipleOf !== 0 || height % rule.multipleOf !== 0) {
    return { ok: false, reason: `${modelId} needs width and height that are multiples of ${rule.multipleOf}` };
  }
  if (Math.max(width, height) > rule.maxEdgePx) {
    return { ok: false, reason: `${modelId} allows at most ${rule.maxEdgePx} pixels on the longer edge` };
  }
  if (Math.max(width, height) / Math.min(width, height) > rule.maxAspectRatio) {
    return { ok: false, reason: `${modelId} allows aspect ratios from 1:${rule.maxAspectRatio} to ${rule.maxAspectRatio}:1` };
  }
  const pixels = width * height;
  if (pixels < rule.minPixels || pixels > rule.maxPixels) {
    return {
      ok: false,
      reason: `${modelId} needs between ${rule.minPixels.toLocaleString('en')} and ${rule.maxPixels.toLocaleString('en')} pixels in all (e.g. 1024x1024 to 3840x2160)`,
    };
  }
  return { ok: true, size, aspect: null };
}

/** Any `WxH` maps to the nearest ratio and tier; `auto` or no size is the model's default. */
function resolveAspectSize(modelId: string, rule: Extract<SizeRule, { kind: 'aspect' }>, asked: string | undefined): SizeResolution {
  if (asked === undefined || asked === 'auto') {
    const aspect = { ratio: rule.defaultRatio, tier: rule.defaultTier };
    return { ok: true, size: aspectSize(rule, aspect), aspect };
  }
  const size = parseSize(asked);
  if (size === null) {
    return { ok: false, reason: `${modelId} takes 'auto' or a size written WIDTHxHEIGHT (mapped to the nearest of ${rule.ratios.join(', ')})` };
  }
  const aspect = nearestAspect(rule, size);
  return { ok: true, size: aspectSize(rule, aspect), aspect };
}

/** The default size of a rule (what `auto` gives), for listings. */
export function defaultSize(rule: SizeRule): string {
  return rule.kind === 'aspect' ? formatSize(aspectSize(rule, { ratio: rule.defaultRatio, tier: rule.defaultTier })) : rule.autoSize;
}

function mustParse(text: string): Dimensions {
  const size = parseSize(text);
  // Catalog entries are checked when the catalog is built (build-catalog.ts).
  if (size === null) throw new TypeError(`catalog size '${text}' is not WxH`);
  return size;
}
