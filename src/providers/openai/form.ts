import { formatSize } from '../../catalog/index.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { VariationRequest } from '../../contract/variation.ts';
import { mimeOf } from '../../media/sniff.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import { encodeMultipart, type FormPart } from '../shared/multipart-form.ts';
import type { ProviderCall, ProviderResult } from '../types.ts';
import { openaiFields, readImagesResponse } from './wire.ts';

/*
 * Edit and variation forms for OpenAI-shaped upstreams (OpenAI, Azure OpenAI, compatible servers).
 * The form is rebuilt from the validated request, never passed on as the client sent it: only the
 * fields the upstream model takes (the model's `openaiWire`; never `response_format` for GPT image
 * models, which answer it with 400 `unknown_parameter`, contract notes §7), the images as `image[]` parts with their real
 * content type (OpenAI refuses `application/octet-stream` parts, contract notes §3) and a file
 * name, the mask as a `mask` part. The answer is read like a generation's.
 */

const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' } as const;

/** The edit form an OpenAI-shaped upstream takes for this model. */
export function editParts(request: EditRequest, upstreamModel: string, options: { sendModel: boolean }): FormPart[] {
  const parts: FormPart[] = [];
  if (options.sendModel) parts.push({ name: 'model', value: upstreamModel });
  parts.push({ name: 'prompt', value: request.prompt }, { name: 'n', value: String(request.n) }, { name: 'size', value: formatSize(request.size) });
  for (const [name, value] of openaiFields(request)) parts.push({ name, value: String(value) });
  if (request.user !== null) parts.push({ name: 'user', value: request.user });
  // A model that takes one image gets it as `image` (dall-e-2); the others take the array form.
  const imageField = request.model.edit?.maxImages === 1 ? 'image' : 'image[]';
  request.images.forEach((image, index) => {
    parts.push({ name: imageField, filename: `image-${index}.${EXTENSIONS[image.format]}`, contentType: mimeOf(image.format), bytes: image.bytes });
  });
  if (request.mask !== null) parts.push({ name: 'mask', filename: 'mask.png', contentType: 'image/png', bytes: request.mask.bytes });
  return parts;
}

/** The variation form (dall-e-2). */
export function variationParts(request: VariationRequest, upstreamModel: string, options: { sendModel: boolean }): FormPart[] {
  const parts: FormPart[] = [];
  if (options.sendModel) parts.push({ name: 'model', value: upstreamModel });
  parts.push(
    { name: 'n', value: String(request.n) },
    { name: 'size', value: formatSize(request.size) },
    // The gateway stores every image and answers url or b64 itself, so it always asks for bytes.
    { name: 'response_format', value: 'b64_json' },
  );
  if (request.user !== null) parts.push({ name: 'user', value: request.user });
  parts.push({ name: 'image', filename: 'image.png', contentType: 'image/png', bytes: request.image.bytes });
  return parts;
}

/** Posts a form to an OpenAI-shaped images endpoint and reads the images out of the answer. */
export async function postImagesForm(
  provider: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  parts: readonly FormPart[],
  call: ProviderCall<unknown>,
): Promise<ProviderResult> {
  const { body, contentType } = encodeMultipart(parts);
  const response = await callUpstream(call.channel, {
    method: 'POST',
    url,
    headers: { ...headers, 'content-type': contentType, accept: 'application/json' },
    body,
    signal: call.signal,
    retain: call.retain,
  });
  return readImagesResponse(provider, response, call.channel, call);
}
