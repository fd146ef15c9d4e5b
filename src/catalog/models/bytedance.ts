import type { EditRules, ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * ByteDance's Seedream models as Volcengine Ark names them (`ark` provider). Every rule below is
 * from Ark's image generation API reference (docs/82379/1541523, "图片生成 API"), unless said.
 *
 * Sizes are a `free` rule: Ark takes any `WxH` ("方式 2") whose pixel count lies in the model's
 * range and whose aspect ratio lies in [1/16, 16], with no step and no edge limit of its own,
 * which is exactly what a free rule states (the longest edge follows from the two ranges). The
 * resolution tiers of "方式 1" (`1K`/`2K`/`3K`/`4K`) are no `aspect` rule: with a tier Ark takes no
 * ratio at all and lets the model read one from the prompt's wording, so an OpenAI `size` could not
 * be honoured. The recommended pixel sizes of every tier are the common sizes; `auto` (or no size)
 * is Ark's own default, 2048x2048.
 */

const MB = 1024 * 1024;

/** Ark's recommended sizes per tier (1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3, 21:9). */
const TIER_1K = ['1024x1024', '1152x864', '864x1152', '1280x720', '720x1280', '1248x832', '832x1248', '1512x648'];
const TIER_2K = ['2048x2048', '2304x1728', '1728x2304', '2848x1600', '1600x2848', '2496x1664', '1664x2496', '3136x1344'];
const TIER_3K = ['3072x3072', '3456x2592', '2592x3456', '4096x2304', '2304x4096', '3744x2496', '2496x3744', '4704x2016'];
const TIER_4K = ['4096x4096', '4704x3520', '3520x4704', '5504x3040', '3040x5504', '4992x3328', '3328x4992', '6240x2656'];

/** "宽高比取值范围：[1/16, 16]". */
const MAX_ASPECT_RATIO = 16;

function seedreamSizes(minPixels: number, maxPixels: number, commonSizes: readonly string[]): SizeRule {
  return {
    kind: 'free',
    multipleOf: 1,
    // The longest edge the pixel and ratio ranges allow (16,384 at 16,777,216 pixels).
    maxEdgePx: Math.floor(Math.sqrt(maxPixels * MAX_ASPECT_RATIO)),
    minPixels,
    maxPixels,
    maxAspectRatio: MAX_ASPECT_RATIO,
    commonSizes,
    autoSize: '2048x2048',
  };
}

/**
 * Reference images ("image"): 1 to 14 ("最多支持传入 14 张参考图"), each at most 10 MB, of jpeg, png,
 * webp, bmp, tiff or gif (the gateway takes the first three), sent inline as base64 data URLs.
 * No mask; JSON edits with `image_url` are taken (the gateway fetches and checks them first).
 */
const SEEDREAM_EDITS: EditRules = {
  formats: ['png', 'jpeg', 'webp'],
  maxImages: 14,
  maxFileBytes: 10 * MB,
  square: false,
  json: true,
  inputFidelities: [],
};

/** What every Seedream 4.x/5.0 row shares. */
const SEEDREAM = {
  ownedBy: 'bytedance',
  // "组图…最多生成15张图片": a set holds up to 15 pictures (`max_images` 1–15), less the references.
  maxN: 15,
  // Seedream 4.x draws JPEG only; 5.0-lite takes `output_format` png|jpeg, but the gateway
  // transcodes to whatever the client asks, so all three are asked for JPEG.
  nativeFormat: 'jpeg',
  // Ark streams finished pictures of a set, not partial renders; the gateway answers a streamed
  // request with completed events once the pictures are in.
  streaming: true,
  edit: SEEDREAM_EDITS,
  // `seed` is "仅 doubao-seedream-3.0 支持" (Seedream 3.0 only); no negative prompt either. The
  // prompt has no hard limit: Ark advises at most 300 Chinese characters or 600 English words, and
  // the default 4,000 characters holds 600 English words.
  extras: { negativePromptMaxChars: null, seed: false },
} as const;

export const BYTEDANCE_MODELS: readonly ModelSpec[] = [
  imageModel({
    ...SEEDREAM,
    id: 'doubao-seedream-4-0-250828',
    // "总像素取值范围：[1280x720=921600, 4096x4096=16777216]"; tiers 1K, 2K, 4K.
    size: seedreamSizes(921_600, 16_777_216, [...TIER_1K, ...TIER_2K, ...TIER_4K]),
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.03 } } },
    priceSource:
      'BytePlus ModelArk price list, Seedream 4.0: USD 0.03 per generated image; Volcengine Ark (cn-beijing) bills CNY 0.20 per image (docs/82379/1544106); only pictures delivered are billed',
  }),
  imageModel({
    ...SEEDREAM,
    id: 'doubao-seedream-4-5-251128',
    // "总像素取值范围：[2560x1440=3686400, 4096x4096=16777216]"; tiers 2K, 4K (no 1K).
    size: seedreamSizes(3_686_400, 16_777_216, [...TIER_2K, ...TIER_4K]),
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.04 } } },
    priceSource:
      'BytePlus ModelArk price list, Seedream 4.5: USD 0.04 per generated image; Volcengine Ark (cn-beijing) bills CNY 0.25 per image (docs/82379/1544106); only pictures delivered are billed',
  }),
  imageModel({
    ...SEEDREAM,
    // Seedream 5.0 lite.
    id: 'doubao-seedream-5-0-260128',
    // "总像素取值范围：[2560x1440=3686400, 3072x3072x1.1025=10404496]"; tiers 2K, 3K (no 4K).
    size: seedreamSizes(3_686_400, 10_404_496, [...TIER_2K, ...TIER_3K]),
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.035 } } },
    priceSource:
      'BytePlus ModelArk price list, Seedream 5.0 lite: USD 0.035 per generated image; Volcengine Ark (cn-beijing) bills CNY 0.22 per image (docs/82379/1544106); only pictures delivered are billed',
  }),
];
