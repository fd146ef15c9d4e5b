import type { EditRules, ModelSpec } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * Rule sets for Stable Diffusion checkpoints on the operator's own GPU (AUTOMATIC1111, Forge,
 * SD.Next, ComfyUI). They are starting points: operators name their checkpoints as models of
 * their own in imagegate.yaml (`models: [{ id: my-juggernaut, like: sdxl }]`) and map each to the
 * checkpoint on a channel (`models: { my-juggernaut: "juggernautXL_v9.safetensors" }`).
 *
 * Prices: there is no maker's price list; the GPU is the operator's. The figures are low
 * placeholders (about what a rented consumer GPU costs per image) for the operator to replace
 * with their own cost (`prices:` in imagegate.yaml, or `price` on their own model).
 */

const PRICE_SOURCE = 'set by the operator (GPU cost)';

const MB = 1024 * 1024;

/**
 * img2img takes one init image (further `init_images` feed further batch items, not references)
 * and an optional mask; any format PIL reads (api.py `decode_base64_to_image`). The engine sets
 * no file limit; 20 MB bounds the JSON the gateway sends it.
 */
const IMG2IMG: EditRules = { formats: ['png', 'jpeg', 'webp'], maxImages: 1, maxFileBytes: 20 * MB, square: false, json: true, inputFidelities: [] };

/**
 * Common to both: width and height in multiples of 8 (the VAE's factor; A1111's sliders step by
 * 8), a batch of up to 8 (`batch_size` 1–8 in the web UI), prompts and negative prompts of any
 * length (A1111 encodes them in chunks of 75 CLIP tokens; 10,000 characters keeps requests sane),
 * a seed, edits with a mask, and real partial images when streaming (live previews).
 */
function checkpointRules(row: Pick<ModelSpec, 'id' | 'size' | 'price'>): ModelSpec {
  return imageModel({
    ownedBy: 'self-hosted',
    priceSource: PRICE_SOURCE,
    maxN: 8,
    promptMaxChars: 10_000,
    extras: { negativePromptMaxChars: 10_000, seed: true },
    streaming: true,
    edit: IMG2IMG,
    ...row,
  });
}

const perImage = (usd: number): ModelSpec['price'] => ({ kind: 'per_image', usdPerImage: { standard: { '*': usd } } });

export const SELF_HOSTED_MODELS: readonly ModelSpec[] = [
  // SDXL is trained around one megapixel in buckets such as 1024x1024, 1152x896, 1216x832,
  // 1344x768 and 1536x640 (SDXL report, appendix); 512–2048 px edges work, far from a megapixel
  // they repeat subjects or lose detail.
  checkpointRules({
    id: 'sdxl',
    size: {
      kind: 'free',
      multipleOf: 8,
      maxEdgePx: 2048,
      minPixels: 512 * 512,
      maxPixels: 2048 * 2048,
      maxAspectRatio: 4,
      commonSizes: ['1024x1024', '1152x896', '896x1152', '1216x832', '832x1216', '1344x768', '768x1344', '1536x640', '640x1536'],
      autoSize: '1024x1024',
    },
    price: perImage(0.002),
  }),
  // SD 1.5 is trained at 512x512; 512-based sizes up to 1024 px edges.
  checkpointRules({
    id: 'sd15',
    size: {
      kind: 'free',
      multipleOf: 8,
      maxEdgePx: 1024,
      minPixels: 256 * 256,
      maxPixels: 1024 * 1024,
      maxAspectRatio: 4,
      commonSizes: ['512x512', '768x512', '512x768', '640x512', '512x640', '768x768'],
      autoSize: '512x512',
    },
    price: perImage(0.001),
  }),
];
