import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { VariationRequest } from '../../contract/variation.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { mimeOf } from '../../media/sniff.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { decodeRgba, encodeRgba } from './edit.ts';
import { planRender, renderImage } from './render.ts';

/*
 * Variations for the built-in renderer. The input is read for its colours (mean hue, brightness,
 * saturation), which become a prompt in the renderer's vocabulary ("blue sunset lake"); each
 * variation is the input recoloured (its hue turned by a different angle per index, mirrored on
 * odd indices) blended with its own scene painted from that prompt. The result keeps the input's
 * shapes and light, so it is visibly related, and each of `n` differs.
 */

/** How much of the recoloured input each variation keeps. */
const INPUT_SHARE = 0.65;

const ELEMENTS = ['calm lake', 'mountains', 'forest', 'city skyline', 'sea with a sail boat', 'meadow with trees'] as const;

export async function localVariation(request: VariationRequest, ctx: Pick<ProviderCall<unknown>, 'signal'>): Promise<ProviderResult> {
  const size = request.size;
  const input = await decodeRgba(request.image.bytes, size, true);
  const digest = createHash('sha256').update(request.image.bytes).digest();
  const prompt = describeColours(input.data, digest.readUInt32BE(0));
  const plan = planRender(sceneRequest(request, prompt, request.seed ?? digest.readUInt32BE(4) & 0x7fffffff));

  const images: ProviderImage[] = [];
  for (let index = 0; index < request.n; index += 1) {
    ctx.signal.throwIfAborted();
    const hue = (47 + 71 * index) % 360;
    let recolour = sharp(input.data, { raw: { width: input.width, height: input.height, channels: 4 } }).modulate({ hue, saturation: 1.15 });
    if (index % 2 === 1) recolour = recolour.flop();
    const turned = await recolour.raw({ depth: 'uchar' }).toBuffer();
    const scene = await decodeRgba(await renderImage(plan, index), size);
    const out = Buffer.alloc(turned.length);
    for (let i = 0; i < out.length; i += 4) {
      for (let c = 0; c < 3; c += 1) {
        out[i + c] = Math.round((turned[i + c] ?? 0) * INPUT_SHARE + (scene.data[i + c] ?? 0) * (1 - INPUT_SHARE));
      }
      out[i + 3] = 255;
    }
    const bytes = await encodeRgba({ data: out, width: input.width, height: input.height }, false, request.outputFormat, request.outputCompression);
    images.push({ bytes, mime: mimeOf(request.outputFormat) });
  }
  return { images };
}

function sceneRequest(request: VariationRequest, prompt: string, seed: number): ImageParams {
  return {
    model: request.model,
    prompt,
    n: request.n,
    size: request.size,
    askedSize: null,
    aspect: null,
    quality: request.quality,
    style: null,
    responseFormat: 'b64_json',
    outputFormat: 'png',
    outputCompression: 100,
    background: 'opaque',
    moderation: null,
    seed,
    negativePrompt: null,
    user: request.user,
    stream: false,
    partialImages: 0,
    droppedParams: [],
  };
}

/** A prompt from an image's colours: its mean hue as a colour word, its brightness as a time of day. */
function describeColours(rgba: Buffer, pick: number): string {
  let r = 0;
  let g = 0;
  let b = 0;
  const step = Math.max(1, Math.floor(rgba.length / 4 / 65_536)) * 4;
  let count = 0;
  for (let i = 0; i < rgba.length; i += step) {
    r += rgba[i] ?? 0;
    g += rgba[i + 1] ?? 0;
    b += rgba[i + 2] ?? 0;
    count += 1;
  }
  r /= count;
  g /= count;
  b /= count;
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const light = (max + min) / 2;
  const time = light > 170 ? 'day' : light > 90 ? 'sunset' : 'night';
  const element = ELEMENTS[pick % ELEMENTS.length] ?? 'lake';
  if (max - min < 24) return `${light > 200 ? 'white' : light < 60 ? 'black' : 'silver'} ${time} ${element}`;
  let hue: number;
  if (max === r) hue = (60 * (g - b)) / (max - min);
  else if (max === g) hue = 120 + (60 * (b - r)) / (max - min);
  else hue = 240 + (60 * (r - g)) / (max - min);
  hue = (hue + 360) % 360;
  const colour =
    hue < 15
      ? 'red'
      : hue < 40
        ? 'orange'
        : hue < 65
          ? 'yellow'
          : hue < 160
            ? 'green'
            : hue < 195
              ? 'teal'
              : hue < 255
                ? 'blue'
                : hue < 290
                  ? 'purple'
                  : hue < 335
                    ? 'pink'
                    : 'red';
  return `${colour} ${time} ${element}`;
}
