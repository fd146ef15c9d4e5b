import { randomBytes } from 'node:crypto';
import { formatSize } from '../../catalog/index.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { VariationRequest } from '../../contract/variation.ts';
import { GatewayError } from '../../errors.ts';
import { mimeOf } from '../../media/sniff.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { CallContext, Channel, ProviderResult } from '../types.ts';
import { readImagesResponse } from './wire.ts';

/*
 * Edits and variations on OpenAI-shaped upstreams (OpenAI, Azure OpenAI, compatible servers).
 * The form is rebuilt from the validated request, never passed on as the client sent it: only the
 * fields the upstream model takes (never `response_format` for GPT image models, which answer it
 * with 400 `unknown_parameter`, contract notes §7), the images as `image[]` parts with their real
 * content type (OpenAI refuses `application/octet-stream` parts, contract notes §3) and a file
 * name, the mask as a `mask` part. The answer is read like a generation's.
 */

/** One part of a multipart/form-data body. */
export type FormPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly filename: string; readonly contentType: string; readonly bytes: Buffer };

/** RFC 7578 multipart/form-data with a random boundary. */
export function encodeMultipart(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
  const boundary = `----imagegate${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const name = quote(part.name);
    if ('value' in part) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${part.value}\r\n`, 'utf8'));
    } else {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${quote(part.filename)}"\r\nContent-Type: ${part.contentType}\r\n\r\n`,
          'utf8',
        ),
        part.bytes,
        Buffer.from('\r\n', 'latin1'),
      );
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Quotes in names are percent-encoded, as browsers do (WHATWG HTML, "multipart/form-data encoding"). */
function quote(text: string): string {
  return text.replaceAll('"', '%22').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' } as const;

/** The edit form an OpenAI-shaped upstream takes for this model. */
export function editParts(request: EditRequest, upstreamModel: string, options: { sendModel: boolean }): FormPart[] {
  const gpt = request.model.family === 'gpt-image';
  const parts: FormPart[] = [];
  if (options.sendModel) parts.push({ name: 'model', value: upstreamModel });
  parts.push({ name: 'prompt', value: request.prompt }, { name: 'n', value: String(request.n) }, { name: 'size', value: formatSize(request.size) });
  if (gpt) {
    parts.push(
      { name: 'quality', value: request.quality },
      { name: 'output_format', value: request.outputFormat },
      { name: 'background', value: request.background },
    );
    if (request.outputFormat !== 'png') parts.push({ name: 'output_compression', value: String(request.outputCompression) });
    // openai-node 7.57: "For gpt-image-2, omit this parameter" (contract notes §3).
    if (request.inputFidelity !== null && request.model.id !== 'gpt-image-2') parts.push({ name: 'input_fidelity', value: request.inputFidelity });
  } else {
    // The gateway stores every image and answers url or b64 itself, so it always asks for bytes.
    parts.push({ name: 'response_format', value: 'b64_json' });
  }
  if (request.user !== null) parts.push({ name: 'user', value: request.user });
  request.images.forEach((image, index) => {
    parts.push({
      // dall-e-2 takes exactly one image, as `image`; GPT image models take the array form.
      name: gpt ? 'image[]' : 'image',
      filename: `image-${index}.${EXTENSIONS[image.format]}`,
      contentType: mimeOf(image.format),
      bytes: image.bytes,
    });
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
  channel: Channel,
  ctx: CallContext,
): Promise<ProviderResult> {
  const { body, contentType } = encodeMultipart(parts);
  const response = await callUpstream(channel, {
    method: 'POST',
    url,
    headers: { ...headers, 'content-type': contentType, accept: 'application/json' },
    body,
    signal: ctx.signal,
  });
  return readImagesResponse(provider, response, channel, ctx);
}

function upstreamModelOf(request: { model: { id: string } }, channel: Channel): string {
  const upstreamModel = channel.models[request.model.id];
  if (upstreamModel === undefined) throw new GatewayError('server_error', `Channel ${channel.id} was routed a model it does not serve.`);
  return upstreamModel;
}

/** OpenAI's own headers: bearer key, organization, our request id echoed in its logs. */
function openaiHeaders(channel: Channel, ctx: CallContext): Record<string, string> {
  const headers: Record<string, string> = { 'x-client-request-id': ctx.requestId };
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  const organization = channel.options['organization'];
  if (organization !== undefined) headers['openai-organization'] = organization;
  return headers;
}

/** `openaiProvider.edit`: POST {baseUrl}/images/edits. */
export async function openaiEdit(request: EditRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult> {
  const parts = editParts(request, upstreamModelOf(request, channel), { sendModel: true });
  return postImagesForm('openai', `${channel.baseUrl}/images/edits`, openaiHeaders(channel, ctx), parts, channel, ctx);
}

/** `openaiProvider.variation`: POST {baseUrl}/images/variations. */
export async function openaiVariation(request: VariationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult> {
  const parts = variationParts(request, upstreamModelOf(request, channel), { sendModel: true });
  return postImagesForm('openai', `${channel.baseUrl}/images/variations`, openaiHeaders(channel, ctx), parts, channel, ctx);
}

/**
 * `azureOpenAIProvider.edit`: Azure's deployment URL (or `/openai/v1/…` with `apiVersion: v1`,
 * where the deployment goes in the form's `model`) and `api-key` header, as for generations.
 */
export async function azureOpenAIEdit(request: EditRequest, channel: Channel, ctx: CallContext, defaultApiVersion: string): Promise<ProviderResult> {
  const deployment = upstreamModelOf(request, channel);
  const apiVersion = channel.options['apiVersion'] ?? defaultApiVersion;
  const v1 = apiVersion === 'v1';
  const url = v1
    ? `${channel.baseUrl}/openai/v1/images/edits`
    : `${channel.baseUrl}/openai/deployments/${encodeURIComponent(deployment)}/images/edits?api-version=${encodeURIComponent(apiVersion)}`;
  const headers: Record<string, string> = {};
  if (channel.apiKey !== null) headers['api-key'] = channel.apiKey;
  return postImagesForm('azure-openai', url, headers, editParts(request, deployment, { sendModel: v1 }), channel, ctx);
}
