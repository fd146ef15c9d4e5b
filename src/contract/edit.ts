import { z } from 'zod';
import type { AspectChoice, Dimensions, EditRules, InputFidelity, ModelSpec, OutputFormat, SizeRule } from '../catalog/index.ts';
import { formatSize, parseSize, resolveSize } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { ContractSettings } from './generation.ts';
import type { ImageParams } from './generation-request.ts';
import {
  checkBackground,
  checkCompression,
  checkModeration,
  checkN,
  checkNegativePrompt,
  checkOutputFormat,
  checkPrompt,
  checkQuality,
  checkResponseFormat,
  checkSeed,
  checkStreaming,
  FieldPolicy,
  oneOf,
  resolveModel,
} from './image-fields.ts';
import { type InputImage, probeImage, type RawImage } from './input-image.ts';
import { type Form, formBoolean, formInteger, singleField } from './multipart.ts';
import { zodIssueToError } from './parse-body.ts';

/*
 * POST /v1/images/edits (contract notes §3): CreateImageEditRequest as multipart/form-data, or
 * EditImageBodyJsonParam as JSON with images given by URL. Validation runs in two steps so that a
 * JSON request is refused for its fields before any image is downloaded:
 *   1. `editFieldsFromForm` / `editFieldsFromJson` → `validateEditFields` (everything but images);
 *   2. `validateEditImages` (the files: type by magic bytes, size, count, mask, then `size: auto`).
 */

/** An edit after validation: the common image parameters plus the images it starts from. */
export interface EditRequest extends ImageParams {
  readonly operation: 'edit';
  /** 1 to 16 images (1 for dall-e-2); the first is the one edited, the rest are references. */
  readonly images: readonly InputImage[];
  /** PNG whose fully transparent pixels mark where the first image is edited; same size as it. */
  readonly mask: InputImage | null;
  readonly inputFidelity: InputFidelity | null;
  /** The client asked `auto` (or gave no size): `size` was derived from the first image. */
  readonly sizeAuto: boolean;
}

const MB = 1024 * 1024;

/** The mask: "a valid PNG file, less than 4MB, and have the same dimensions as image". */
export const MASK_MAX_BYTES = 4 * MB;

/** The most images any model takes in one edit (the multipart reader's file limit, with the mask). */
export const MAX_EDIT_IMAGES = 16;

const optional = <T extends z.ZodType>(schema: T) => schema.nullish();

/** The edit fields that are not files, typed; the same for both forms once coerced. */
const EditFieldsShape = {
  prompt: z.string(),
  model: optional(z.string()),
  n: optional(z.number().int('must be a whole number')),
  size: optional(z.string()),
  quality: optional(z.string()),
  response_format: optional(z.string()),
  output_format: optional(z.string()),
  output_compression: optional(z.number().int('must be a whole number')),
  background: optional(z.string()),
  input_fidelity: optional(z.string()),
  moderation: optional(z.string()),
  user: optional(z.string().max(256, 'must be at most 256 characters')),
  safety_identifier: optional(z.string().max(256, 'must be at most 256 characters')),
  stream: optional(z.boolean()),
  partial_images: optional(z.number().int('must be a whole number')),
  // imagegate extensions, as in generations.
  seed: optional(z.number().int('must be a whole number').min(0).max(2_147_483_647)),
  negative_prompt: optional(z.string()),
};
export const EditFieldsSchema = z.strictObject(EditFieldsShape);

export const JsonEditSchema = z.strictObject({
  ...EditFieldsShape,
  images: optional(z.array(z.unknown())),
  mask: optional(z.unknown()),
});

/** The non-file fields of an edit, as sent (types checked, values not yet). */
export type EditFields = z.infer<typeof EditFieldsSchema>;

/** Where a JSON edit's image comes from: `image_url` (a data: URL or an http(s) URL). */
export interface ImageRef {
  readonly param: string;
  readonly url: string;
}

/** The fields of an edit after the model's rules, before its images are seen. */
export interface EditParams {
  readonly form: 'multipart' | 'json';
  readonly model: ModelSpec;
  /** The model's edit rules (it edits: checked with the fields). */
  readonly rules: EditRules;
  readonly prompt: string;
  readonly n: number;
  readonly sizeAsked: string | undefined;
  readonly quality: string;
  readonly responseFormat: ImageParams['responseFormat'];
  readonly outputFormat: OutputFormat;
  readonly outputCompression: number;
  readonly background: 'transparent' | 'opaque';
  readonly moderation: ImageParams['moderation'];
  readonly inputFidelity: InputFidelity | null;
  readonly seed: number | null;
  readonly negativePrompt: string | null;
  readonly droppedParams: readonly string[];
  readonly user: string | null;
  readonly stream: boolean;
  readonly partialImages: number;
}

const INTEGER_FIELDS = ['n', 'output_compression', 'partial_images', 'seed'] as const;
const IMAGE_FIELD = /^image(\[\]|\[(0|[1-9][0-9]?)\])?$/;

/**
 * Splits a multipart edit into its fields (numbers and booleans coerced from text) and its files.
 * Images come as `image` (one, or repeated), `image[]` (repeated, what openai-node and the curl
 * example send) or `image[N]`; errors name them `image`, `image[0]` …, or `image[N]` as sent.
 */
export function editFieldsFromForm(form: Form): { fields: Record<string, unknown>; images: RawImage[]; mask: RawImage | null } {
  const fields: Record<string, unknown> = {};
  for (const name of form.fields.keys()) {
    if (IMAGE_FIELD.test(name) || name === 'mask') {
      throw new GatewayError('invalid_type', `Invalid type for '${name}': expected a file upload, but got a text field.`, { param: name });
    }
    fields[name] = singleField(form, name);
  }
  for (const name of INTEGER_FIELDS) if (name in fields) fields[name] = formInteger(name, singleField(form, name));
  if ('stream' in fields) fields['stream'] = formBoolean('stream', singleField(form, 'stream'));

  const listed: { file: Form['files'][number]; index: number | null }[] = [];
  let mask: RawImage | null = null;
  for (const file of form.files) {
    const match = IMAGE_FIELD.exec(file.field);
    if (match !== null) {
      listed.push({ file, index: match[2] === undefined ? null : Number(match[2]) });
    } else if (file.field === 'mask') {
      if (mask !== null) throw new GatewayError('invalid_value', "Invalid value for 'mask': send one mask.", { param: 'mask' });
      mask = { param: 'mask', bytes: file.bytes, declaredType: file.contentType, filename: file.filename };
    } else {
      throw new GatewayError('unknown_parameter', `Unknown parameter: '${file.field}'.`, { param: file.field });
    }
  }
  const indexed = listed.filter((entry) => entry.index !== null);
  let images: RawImage[];
  if (indexed.length > 0) {
    if (indexed.length !== listed.length) {
      throw new GatewayError('invalid_value', "Send images either as 'image'/'image[]' or as 'image[0]', 'image[1]' …, not both.", { param: 'image' });
    }
    const seen = new Set<number>();
    for (const entry of indexed) {
      if (seen.has(entry.index ?? -1)) {
        throw new GatewayError('invalid_value', `Invalid value for 'image[${entry.index}]': it was sent twice.`, { param: `image[${entry.index}]` });
      }
      seen.add(entry.index ?? -1);
    }
    images = [...indexed]
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
      .map(({ file, index }) => ({ param: `image[${index}]`, bytes: file.bytes, declaredType: file.contentType, filename: file.filename }));
  } else {
    const single = listed.length === 1 && listed[0]?.file.field === 'image';
    images = listed.map(({ file }, i) => ({
      param: single ? 'image' : `image[${i}]`,
      bytes: file.bytes,
      declaredType: file.contentType,
      filename: file.filename,
    }));
  }
  return { fields, images, mask };
}

/**
 * Splits a JSON edit (EditImageBodyJsonParam) into its fields and image references. Each entry of
 * `images` (and `mask`) is `{image_url}` or `{file_id}`; the gateway has no files API, so
 * `file_id` is refused with a pointer to `image_url`.
 */
export function editFieldsFromJson(body: unknown): { fields: Record<string, unknown>; images: ImageRef[]; mask: ImageRef | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_type', 'The request body must be a JSON object.');
  }
  const parsed = JsonEditSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToError(parsed.error, body);
  const { images, mask, ...fields } = parsed.data;
  return {
    fields,
    images: (images ?? []).map((entry, index) => imageRef(entry, `images[${index}]`)),
    mask: mask == null ? null : imageRef(mask, 'mask'),
  };
}

function imageRef(entry: unknown, param: string): ImageRef {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new GatewayError('invalid_type', `Invalid type for '${param}': expected an object with 'image_url'.`, { param });
  }
  const record = entry as Record<string, unknown>;
  const extra = Object.keys(record).find((key) => key !== 'image_url' && key !== 'file_id');
  if (extra !== undefined) throw new GatewayError('unknown_parameter', `Unknown parameter: '${param}.${extra}'.`, { param: `${param}.${extra}` });
  if (record['file_id'] !== undefined) {
    throw new GatewayError('unsupported_parameter', `'${param}.file_id': file_id is not supported; send image_url (an https URL or a base64 data URL).`, {
      param: `${param}.file_id`,
    });
  }
  const url = record['image_url'];
  if (url === undefined)
    throw new GatewayError('missing_required_parameter', `Missing required parameter: '${param}.image_url'.`, { param: `${param}.image_url` });
  if (typeof url !== 'string')
    throw new GatewayError('invalid_type', `Invalid type for '${param}.image_url': expected a string.`, { param: `${param}.image_url` });
  return { param, url };
}

/**
 * Checks the non-file fields against the model (default: the spec's `gpt-image-1.5`, or what the
 * caller passes). `stream` and `partial_images` are checked as in generations.
 */
export function validateEditFields(fields: Record<string, unknown>, form: 'multipart' | 'json', settings: ContractSettings): EditParams {
  const parsed = EditFieldsSchema.safeParse(fields);
  if (!parsed.success) throw zodIssueToError(parsed.error, fields);
  const raw = parsed.data;
  const { catalog } = settings;
  const policy = new FieldPolicy(settings.unsupportedParams, catalog);

  const model = resolveModel(catalog, raw.model ?? settings.defaultModel);
  const rules = model.edit;
  if (rules === null) {
    const editors = catalog
      .all()
      .filter((m) => m.edit !== null)
      .map((m) => m.id);
    throw new GatewayError('invalid_value', `Invalid value '${model.id}' for 'model': ${model.id} does not edit images; use ${editors.join(', ')}.`, {
      param: 'model',
    });
  }
  if (form === 'json' && !rules.json) {
    const json = catalog
      .all()
      .filter((m) => m.edit?.json === true)
      .map((m) => m.id);
    throw new GatewayError('invalid_value', `JSON edits are taken by ${json.join(', ')}; send ${model.id} edits as multipart/form-data.`, { param: 'model' });
  }
  const { stream, partialImages } = checkStreaming(model, raw.stream, raw.partial_images, policy);

  const prompt = checkPrompt(model, raw.prompt);
  const n = checkN(model, raw.n);
  const quality = checkQuality(model, raw.quality, policy);
  const responseFormat = checkResponseFormat(model, raw.response_format);
  const outputFormat = checkOutputFormat(model, raw.output_format, policy);
  const outputCompression = checkCompression(model, raw.output_compression, outputFormat, policy);
  const background = checkBackground(model, raw.background, outputFormat, policy);
  const moderation = checkModeration(model, raw.moderation, policy);
  const inputFidelity = checkInputFidelity(model, rules, raw.input_fidelity, policy);
  const seed = checkSeed(model, raw.seed, policy);
  const negativePrompt = checkNegativePrompt(model, raw.negative_prompt, policy);
  return {
    form,
    model,
    rules,
    prompt,
    n,
    sizeAsked: raw.size ?? undefined,
    quality,
    responseFormat,
    outputFormat,
    outputCompression,
    background,
    moderation,
    inputFidelity,
    seed,
    negativePrompt,
    user: raw.safety_identifier ?? raw.user ?? null,
    stream,
    partialImages,
    droppedParams: policy.dropped,
  };
}

/** `input_fidelity` (SPEC `InputFidelity`): the values the model's edit rules list. */
function checkInputFidelity(model: ModelSpec, rules: EditRules, asked: string | null | undefined, policy: FieldPolicy): InputFidelity | null {
  if (asked == null) return null;
  if (rules.inputFidelities.length === 0) {
    policy.unsupported(model, 'input_fidelity');
    return null;
  }
  return oneOf(model, 'input_fidelity', asked, rules.inputFidelities) ?? null;
}

/**
 * Checks the images against the model: count, per-file size, type by magic bytes, dall-e-2's
 * square PNG, the mask (PNG with alpha, under 4 MB, the first image's dimensions), then resolves
 * `size` (`auto` follows the first image).
 */
export async function validateEditImages(params: EditParams, rawImages: readonly RawImage[], rawMask: RawImage | null): Promise<EditRequest> {
  const { model, rules } = params;
  const imageParam = params.form === 'json' ? 'images' : 'image';
  if (rawImages.length === 0) {
    throw new GatewayError('missing_required_parameter', `Missing required parameter: '${imageParam}'.`, { param: imageParam });
  }
  if (rawImages.length > rules.maxImages) {
    const takes = rules.maxImages === 1 ? `${model.id} takes one image` : `${model.id} takes at most ${rules.maxImages} images`;
    throw new GatewayError('invalid_value', `Invalid value for '${imageParam}': ${takes}, got ${rawImages.length}.`, { param: imageParam });
  }
  const images: InputImage[] = [];
  for (const raw of rawImages) {
    const only = rules.formats.length === 1 ? `${rules.formats[0]?.toUpperCase()} ` : '';
    assertFileSize(raw, rules.maxFileBytes, rules.maxImages === 1 ? `${model.id} takes ${only}files under` : 'each file must be under');
    const image = await probeImage(raw, rules.formats);
    if (rules.square && image.width !== image.height) {
      throw new GatewayError('invalid_value', `Invalid file '${raw.param}': ${model.id} needs a square image; this one is ${image.width}x${image.height}.`, {
        param: raw.param,
      });
    }
    images.push(image);
  }
  const first = images[0];
  if (first === undefined) throw new GatewayError('missing_required_parameter', `Missing required parameter: '${imageParam}'.`, { param: imageParam });

  let mask: InputImage | null = null;
  if (rawMask !== null) {
    assertFileSize(rawMask, MASK_MAX_BYTES, 'the mask must be a PNG under');
    mask = await probeImage(rawMask, ['png']);
    if (!mask.hasAlpha) {
      throw new GatewayError('invalid_value', "Invalid file 'mask': it has no alpha channel; transparent pixels (alpha 0) mark where to edit.", {
        param: 'mask',
      });
    }
    if (mask.width !== first.width || mask.height !== first.height) {
      throw new GatewayError(
        'invalid_value',
        `Invalid file 'mask': it is ${mask.width}x${mask.height}; it must have the same dimensions as the image (${first.width}x${first.height}).`,
        { param: 'mask' },
      );
    }
  }

  const { size, aspect, sizeAuto } = resolveEditSize(model, params.sizeAsked, first);
  return {
    operation: 'edit',
    model,
    prompt: params.prompt,
    n: params.n,
    size,
    askedSize: params.sizeAsked === undefined ? null : parseSize(params.sizeAsked),
    aspect,
    quality: params.quality,
    style: null,
    responseFormat: params.responseFormat,
    outputFormat: params.outputFormat,
    outputCompression: params.outputCompression,
    background: params.background,
    moderation: params.moderation,
    seed: params.seed,
    negativePrompt: params.negativePrompt,
    user: params.user,
    stream: params.stream,
    partialImages: params.partialImages,
    droppedParams: params.droppedParams,
    images,
    mask,
    inputFidelity: params.inputFidelity,
    sizeAuto,
  };
}

function assertFileSize(raw: RawImage, maxBytes: number, rule: string): void {
  if (raw.bytes.length >= maxBytes) {
    throw new GatewayError(
      'payload_too_large',
      `Invalid file '${raw.param}': ${rule} ${maxBytes / MB} MB; this one is ${(raw.bytes.length / MB).toFixed(1)} MB.`,
      {
        param: raw.param,
      },
    );
  }
}

/**
 * An asked size as the model takes it; `auto` (and, for GPT image models, no size: the JSON
 * schema's and openai-node's default) follows the first image: its own size when the model
 * produces that size, else the nearest the model does (same aspect ratio where it can).
 */
export function resolveEditSize(
  model: ModelSpec,
  asked: string | undefined,
  first: Dimensions,
): { size: Dimensions; aspect: AspectChoice | null; sizeAuto: boolean } {
  const rule = model.size;
  const auto = asked === undefined || asked === 'auto';
  if (rule.kind === 'aspect') {
    // The nearest ratio and tier to the first image, or to the size asked.
    const resolved = resolveSize(model.id, rule, auto ? formatSize(first) : asked);
    if (!resolved.ok) throw new GatewayError('invalid_value', `Invalid value '${asked}' for 'size': ${resolved.reason}.`, { param: 'size' });
    return { size: resolved.size, aspect: resolved.aspect, sizeAuto: auto };
  }
  const takesAuto = rule.kind === 'free' || rule.acceptsAuto;
  if (takesAuto && auto) return { size: sizeLike(model.id, rule, first), aspect: null, sizeAuto: true };
  const resolved = resolveSize(model.id, rule, asked);
  if (!resolved.ok) throw new GatewayError('invalid_value', `Invalid value '${asked}' for 'size': ${resolved.reason}.`, { param: 'size' });
  return { size: resolved.size, aspect: null, sizeAuto: false };
}

function sizeLike(modelId: string, rule: Exclude<SizeRule, { kind: 'aspect' }>, image: Dimensions): Dimensions {
  const own = resolveSize(modelId, rule, formatSize(image));
  if (own.ok && (rule.kind === 'free' || rule.sizes.includes(formatSize(image)))) return own.size;
  const aspect = image.width / image.height;
  if (rule.kind === 'list') {
    let best = rule.autoSize;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const listed of rule.sizes) {
      const [w = 1, h = 1] = listed.split('x').map(Number);
      const distance = Math.abs(Math.log(w / h / aspect));
      if (distance < bestDistance - 1e-9) {
        best = listed;
        bestDistance = distance;
      }
    }
    const picked = resolveSize(modelId, rule, best);
    return picked.ok ? picked.size : fallback(modelId, rule);
  }
  // Free sizes: the image's aspect ratio (within the allowed range) at a pixel count within limits,
  // each edge a multiple of the step.
  const ratio = Math.min(rule.maxAspectRatio, Math.max(1 / rule.maxAspectRatio, aspect));
  const pixels = Math.min(rule.maxPixels, Math.max(rule.minPixels, image.width * image.height));
  const step = rule.multipleOf;
  for (const scale of [1, 0.98, 0.95, 0.9, 1.02, 1.05]) {
    const width = Math.min(rule.maxEdgePx, Math.max(step, Math.round((Math.sqrt(pixels * ratio) * scale) / step) * step));
    const height = Math.min(rule.maxEdgePx, Math.max(step, Math.round((Math.sqrt(pixels / ratio) * scale) / step) * step));
    const candidate = resolveSize(modelId, rule, `${width}x${height}`);
    if (candidate.ok) return candidate.size;
  }
  return fallback(modelId, rule);
}

function fallback(modelId: string, rule: SizeRule): Dimensions {
  const auto = resolveSize(modelId, rule, undefined);
  if (!auto.ok) throw new GatewayError('server_error', `The catalog size rule of ${modelId} has no usable auto size.`);
  return auto.size;
}
