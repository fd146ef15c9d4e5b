import { z } from 'zod';
import { formatSize, type ImageUsage, parseSize } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { GatewayError } from '../../errors.ts';
import { type UpstreamResponse, decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { parseLiftingBase64, restoreBase64 } from '../shared/lift-base64.ts';
import { contentPolicyError, errorForStatus, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { Channel, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';

/**
 * The OpenAI images wire format, shared by every OpenAI-shaped upstream (OpenAI, Azure OpenAI,
 * CometAPI, LocalAI, sd.cpp's server, DeepInfra). Only the fields the model's catalog entry lists
 * in `openaiWire` are sent: OpenAI answers 400 `unknown_parameter` to `response_format` on GPT
 * image models, and dall-e models refuse the GPT-only fields (contract notes §2, §7).
 */
export function generationBody(request: ImageParams, upstreamModel: string, options: { sendModel: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ...(options.sendModel ? { model: upstreamModel } : {}),
    prompt: request.prompt,
    n: request.n,
    size: formatSize(request.size),
  };
  for (const [name, value] of openaiFields(request)) body[name] = value;
  if (request.user !== null) body['user'] = request.user;
  return body;
}

/**
 * The optional fields of an OpenAI images request for this model, as name/value pairs (the JSON
 * body and the edit form both take them). `response_format` is always `b64_json` where the model
 * takes it: the gateway stores every image and answers url or b64 itself, so it asks for bytes,
 * one hop fewer than downloading a URL and no short-lived upstream link to chase.
 */
export function openaiFields(request: ImageParams & { readonly inputFidelity?: string | null }): Array<[string, string | number]> {
  const fields: Array<[string, string | number]> = [];
  for (const field of request.model.openaiWire) {
    switch (field) {
      case 'quality':
        fields.push(['quality', request.quality]);
        break;
      case 'style':
        if (request.style !== null) fields.push(['style', request.style]);
        break;
      case 'response_format':
        fields.push(['response_format', 'b64_json']);
        break;
      case 'output_format':
        fields.push(['output_format', request.outputFormat]);
        break;
      case 'output_compression':
        if (request.outputFormat !== 'png') fields.push(['output_compression', request.outputCompression]);
        break;
      case 'background':
        fields.push(['background', request.background]);
        break;
      case 'moderation':
        // CreateImageEditRequest has no `moderation` (OpenAI spec): generations only.
        if (request.moderation !== null && request.inputFidelity === undefined) fields.push(['moderation', request.moderation]);
        break;
      case 'input_fidelity':
        if (request.inputFidelity !== undefined && request.inputFidelity !== null) fields.push(['input_fidelity', request.inputFidelity]);
        break;
    }
  }
  return fields;
}

/** A count as upstreams report it: any finite number here; the money path bounds it (usage guard). */
const TokenCount = z.number().finite();

const UsageSchema = z.looseObject({
  input_tokens: TokenCount,
  output_tokens: TokenCount,
  total_tokens: TokenCount.optional(),
  input_tokens_details: z.looseObject({ text_tokens: TokenCount.optional(), image_tokens: TokenCount.optional() }).nullish(),
});

/**
 * ImagesResponse (contract notes §5). Azure adds `content_filter_results` to each item and
 * `prompt_filter_results` beside `data`; compatible servers add their own keys: unknown keys pass.
 */
const ImagesResponseSchema = z.looseObject({
  data: z.array(
    z.looseObject({
      b64_json: z.string().nullish(),
      url: z.string().nullish(),
      revised_prompt: z.string().nullish(),
    }),
  ),
  // Compatible servers send odd usage shapes (or none); a usage that does not parse is no claim.
  usage: z.unknown().optional(),
  size: z.string().nullish(),
});

/** `{"error": {message, type, code, inner_error?}}`, or `{"error": "text"}` from some proxies. */
const ErrorBodySchema = z.looseObject({
  error: z.union([
    z.string(),
    z.looseObject({
      message: z.string().nullish(),
      code: z.union([z.string(), z.number()]).nullish(),
      inner_error: z.looseObject({ code: z.string().nullish() }).nullish(),
      innererror: z.looseObject({ code: z.string().nullish() }).nullish(),
    }),
  ]),
});

/** What reading an answer needs of the call: its signal (downloads) and logging context. */
export type ReadContext = Pick<ProviderCall<unknown>, 'requestId' | 'signal' | 'logger'>;

/** Reads an OpenAI-shaped answer (200 or error) into images, or throws the matching GatewayError. */
export async function readImagesResponse(provider: string, response: UpstreamResponse, channel: Channel, ctx: ReadContext): Promise<ProviderResult> {
  const upstreamRequestId = response.headers['x-request-id'] ?? response.headers['apim-request-id'];
  if (response.status !== 200) {
    const error = readError(provider, response);
    ctx.logger.warn(
      { requestId: ctx.requestId, channel: channel.id, upstreamStatus: response.status, upstreamRequestId, code: error.code },
      'upstream refused',
    );
    throw error;
  }
  ctx.logger.debug({ requestId: ctx.requestId, channel: channel.id, upstreamRequestId }, 'upstream answered');
  const lifted = parseLiftingBase64(response.body);
  const answer = parseWire(provider, ImagesResponseSchema, lifted === null ? parseJson(provider, response.text) : lifted.json, 'the images answer');
  const liftedValues = lifted?.base64 ?? [];
  const used = new Set<number>();
  const items = answer.data.map((item) => ({ ...item, b64_json: restoreBase64(item.b64_json, liftedValues, used) }));
  if (used.size !== liftedValues.length) {
    // A lifted value was not an image of `data` (the marker sat somewhere else): parse it all.
    return readImagesResponse(provider, { ...response, body: Buffer.alloc(0) }, channel, ctx);
  }
  const images: ProviderImage[] = [];
  for (const item of items) {
    const revised = typeof item.revised_prompt === 'string' ? { revisedPrompt: item.revised_prompt } : {};
    if (item.b64_json !== null && item.b64_json !== undefined) {
      images.push({ bytes: decodeBase64Image(provider, item.b64_json, response.scratch), base64: item.b64_json, ...revised });
    } else if (typeof item.url === 'string') {
      images.push({ bytes: await channel.http.download(item.url, ctx.signal), ...revised });
    } else {
      throw malformedResponse(provider, 'an item of data has neither b64_json nor url');
    }
  }
  const usage = readUsage(answer.usage);
  const size = typeof answer.size === 'string' ? parseSize(answer.size) : null;
  return { images, ...(usage === undefined ? {} : { usage }), ...(size === null ? {} : { deliveredSize: size }) };
}

/** OpenAI's `usage` (GPT image models); anything that does not parse is no claim at all. */
export function readUsage(raw: unknown): ImageUsage | undefined {
  const parsed = UsageSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const u = parsed.data;
  const text = u.input_tokens_details?.text_tokens ?? u.input_tokens - (u.input_tokens_details?.image_tokens ?? 0);
  const image = u.input_tokens_details?.image_tokens ?? 0;
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { text_tokens: text, image_tokens: image },
    output_tokens: u.output_tokens,
    total_tokens: u.total_tokens ?? u.input_tokens + u.output_tokens,
  };
}

/** Codes OpenAI, Azure and compatible servers use for a safety refusal. */
const POLICY_CODES = new Set(['content_policy_violation', 'moderation_blocked', 'content_filter', 'ResponsibleAIPolicyViolation']);

/** OpenAI `{"error":{message,type,code}}`; Azure's `inner_error.code` names its safety system. */
export function readError(provider: string, response: UpstreamResponse): GatewayError {
  let message = `HTTP ${response.status}`;
  let code = '';
  let innerCode = '';
  let json: unknown;
  try {
    json = JSON.parse(response.text);
  } catch {
    // Not JSON (a proxy's HTML page, a truncated body): the status decides.
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (parsed.success) {
    const error = parsed.data.error;
    if (typeof error === 'string') message = error;
    else {
      if (typeof error.message === 'string' && error.message !== '') message = error.message;
      if (error.code !== undefined && error.code !== null) code = String(error.code);
      innerCode = error.inner_error?.code ?? error.innererror?.code ?? '';
    }
  }
  if (response.status === 400 && (POLICY_CODES.has(code) || POLICY_CODES.has(innerCode))) return contentPolicyError(provider, message);
  return errorForStatus(provider, response.status, response.headers, message);
}
