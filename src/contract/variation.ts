import { z } from 'zod';
import { parseSize } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { ContractSettings } from './generation.ts';
import type { ImageParams } from './generation-request.ts';
import { checkN, checkResponseFormat, checkSeed, FieldPolicy, resolveModel } from './image-fields.ts';
import { resolveRequestedSize } from './size-fields.ts';
import { type InputImage, probeImage } from './input-image.ts';
import { type Form, formInteger, singleField } from './multipart.ts';
import { zodIssueToError } from './parse-body.ts';

/*
 * POST /v1/images/variations (contract notes §4): multipart only, dall-e-2 only. `image` is a
 * square PNG under 4 MB; `n` 1–10; `size` 256x256, 512x512 or 1024x1024 (default 1024x1024);
 * `response_format` url (default) or b64_json; `user`. (OpenAI retired the endpoint with dall-e-2;
 * the gateway keeps it for clients that still call it.)
 */

/** A variation after validation: a generation request (no prompt) plus the image it varies. */
export interface VariationRequest extends ImageParams {
  readonly operation: 'variation';
  readonly image: InputImage;
}

export const VARIATION_MAX_FILE_BYTES = 4 * 1024 * 1024;
const DEFAULT_VARIATION_MODEL = 'dall-e-2';

export const VariationFieldsSchema = z.strictObject({
  model: z.string().nullish(),
  n: z.number().int('must be a whole number').nullish(),
  size: z.string().nullish(),
  response_format: z.string().nullish(),
  user: z.string().max(256, 'must be at most 256 characters').nullish(),
  // imagegate extension: the local renderer takes a seed.
  seed: z.number().int('must be a whole number').min(0).max(2_147_483_647).nullish(),
});

export async function validateVariation(form: Form, settings: Pick<ContractSettings, 'catalog' | 'unsupportedParams'>): Promise<VariationRequest> {
  const { catalog } = settings;
  const policy = new FieldPolicy(settings.unsupportedParams, catalog);
  const fields: Record<string, unknown> = {};
  for (const name of form.fields.keys()) {
    if (name === 'image') {
      throw new GatewayError('invalid_type', "Invalid type for 'image': expected a file upload, but got a text field.", { param: 'image' });
    }
    fields[name] = singleField(form, name);
  }
  for (const name of ['n', 'seed'] as const) if (name in fields) fields[name] = formInteger(name, singleField(form, name));
  const parsed = VariationFieldsSchema.safeParse(fields);
  if (!parsed.success) throw zodIssueToError(parsed.error, fields);
  const raw = parsed.data;

  const model = resolveModel(catalog, raw.model ?? DEFAULT_VARIATION_MODEL);
  if (!model.variations) {
    const able = catalog
      .all()
      .filter((m) => m.variations)
      .map((m) => m.id);
    throw new GatewayError('invalid_value', `Invalid value '${model.id}' for 'model': variations are available only for ${able.join(', ')}.`, {
      param: 'model',
    });
  }

  const files = form.files.filter((file) => file.field === 'image');
  const other = form.files.find((file) => file.field !== 'image');
  if (other !== undefined) throw new GatewayError('unknown_parameter', `Unknown parameter: '${other.field}'.`, { param: other.field });
  const file = files[0];
  if (file === undefined) throw new GatewayError('missing_required_parameter', "Missing required parameter: 'image'.", { param: 'image' });
  if (files.length > 1)
    throw new GatewayError('invalid_value', `Invalid value for 'image': ${model.id} varies one image, got ${files.length}.`, { param: 'image' });

  const n = checkN(model, raw.n);
  const { size, aspect } = resolveRequestedSize(model, raw.size ?? undefined, null, null, policy);
  const responseFormat = checkResponseFormat(model, raw.response_format);

  if (file.bytes.length >= VARIATION_MAX_FILE_BYTES) {
    throw new GatewayError(
      'payload_too_large',
      `Invalid file 'image': ${model.id} takes PNG files under 4 MB; this one is ${(file.bytes.length / 1024 / 1024).toFixed(1)} MB.`,
      {
        param: 'image',
      },
    );
  }
  const image = await probeImage({ param: 'image', bytes: file.bytes, declaredType: file.contentType, filename: file.filename }, ['png']);
  if (image.width !== image.height) {
    throw new GatewayError('invalid_value', `Invalid file 'image': ${model.id} needs a square image; this one is ${image.width}x${image.height}.`, {
      param: 'image',
    });
  }

  return {
    operation: 'variation',
    model,
    prompt: '',
    n,
    size,
    askedSize: raw.size == null ? null : parseSize(raw.size),
    aspect,
    quality: model.defaultQuality,
    style: null,
    responseFormat,
    outputFormat: model.outputFormats[0] ?? model.nativeFormat,
    outputCompression: 100,
    background: 'opaque',
    moderation: null,
    seed: checkSeed(model, raw.seed, policy),
    negativePrompt: null,
    user: raw.user ?? null,
    stream: false,
    partialImages: 0,
    droppedParams: policy.dropped,
    image,
  };
}
