import { formatSize, parseSize, type ImageUsage } from '../../catalog/index.ts';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { parseLiftingBase64, restoreBase64 } from '../shared/lift-base64.ts';
import { contentPolicyError, errorForStatus, malformedResponse } from '../shared/upstream-errors.ts';
import type { UpstreamResponse } from '../shared/call-upstream.ts';
import type { CallContext, Channel, ProviderImage, ProviderResult } from '../types.ts';
import type { GatewayError } from '../../errors.ts';

/**
 * The OpenAI images wire format, shared by every OpenAI-shaped upstream (OpenAI, Azure OpenAI,
 * CometAPI, LocalAI, sd.cpp's server, DeepInfra). Only the fields the upstream model takes are
 * sent: OpenAI answers 400 `unknown_parameter` to `response_format` on GPT image models, and
 * dall-e models refuse the GPT-only fields (contract notes §2, §7).
 */
export function generationBody(request: GenerationRequest, upstreamModel: string, options: { sendModel: boolean }): Record<string, unknown> {
  const family = request.model.family;
  const body: Record<string, unknown> = {
    ...(options.sendModel ? { model: upstreamModel } : {}),
    prompt: request.prompt,
    n: request.n,
    size: formatSize(request.size),
  };
  if (family === 'gpt-image') {
    body['quality'] = request.quality;
    body['output_format'] = request.outputFormat;
    if (request.outputFormat !== 'png') body['output_compression'] = request.outputCompression;
    body['background'] = request.background;
    if (request.moderation !== null) body['moderation'] = request.moderation;
  } else {
    // The gateway stores every image and answers url or b64 itself, so it always asks for bytes:
    // one hop fewer than downloading a URL, and no short-lived upstream link to chase.
    body['response_format'] = 'b64_json';
    if (request.model.id === 'dall-e-3') {
      body['quality'] = request.quality;
      if (request.style !== null) body['style'] = request.style;
    }
  }
  if (request.user !== null) body['user'] = request.user;
  return body;
}

interface WireImage {
  b64_json?: unknown;
  url?: unknown;
  revised_prompt?: unknown;
}

/** Reads an OpenAI-shaped answer (200 or error) into images, or throws the matching GatewayError. */
export async function readImagesResponse(
  provider: string,
  response: UpstreamResponse,
  channel: Channel,
  ctx: CallContext,
): Promise<ProviderResult> {
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
  const answer = dataOf(provider, lifted === null ? parseJson(provider, response.text) : lifted.json);
  const liftedValues = lifted?.base64 ?? [];
  const used = new Set<number>();
  const items = answer.data.map((item) => ({ ...item, b64_json: restoreBase64(item.b64_json, liftedValues, used) }));
  if (used.size !== liftedValues.length) {
    // A lifted value was not an image of `data` (the marker sat somewhere else): parse it all.
    return readImagesResponse(provider, { ...response, body: Buffer.alloc(0) }, channel, ctx);
  }
  const images: ProviderImage[] = [];
  for (const item of items) {
    // Azure adds content_filter_results to each item; anything but the image fields is ignored.
    const revised = typeof item.revised_prompt === 'string' ? { revisedPrompt: item.revised_prompt } : {};
    if (typeof item.b64_json === 'string') {
      images.push({ bytes: decodeBase64Image(provider, item.b64_json), base64: item.b64_json, ...revised });
    } else if (item.b64_json !== undefined && item.b64_json !== null) {
      throw malformedResponse(provider, 'b64_json is not a string');
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

function dataOf(provider: string, json: unknown): { data: WireImage[]; usage?: unknown; size?: unknown } {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { data?: unknown }).data)) {
    throw malformedResponse(provider, "no 'data' array");
  }
  return json as { data: WireImage[]; usage?: unknown; size?: unknown };
}

function readUsage(raw: unknown): ImageUsage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const u = raw as Record<string, unknown>;
  const details = (typeof u['input_tokens_details'] === 'object' && u['input_tokens_details'] !== null ? u['input_tokens_details'] : {}) as Record<string, unknown>;
  const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  if (typeof u['output_tokens'] !== 'number' || typeof u['input_tokens'] !== 'number') return undefined;
  return {
    input_tokens: num(u['input_tokens']),
    input_tokens_details: { text_tokens: num(details['text_tokens']), image_tokens: num(details['image_tokens']) },
    output_tokens: num(u['output_tokens']),
    total_tokens: num(u['total_tokens']) || num(u['input_tokens']) + num(u['output_tokens']),
  };
}

/** OpenAI `{"error":{message,type,code}}`; Azure's `inner_error.code` names its safety system. */
function readError(provider: string, response: UpstreamResponse): GatewayError {
  let message = `HTTP ${response.status}`;
  let code = '';
  let innerCode = '';
  try {
    const json = JSON.parse(response.text) as { error?: { message?: unknown; code?: unknown; inner_error?: { code?: unknown }; innererror?: { code?: unknown } } | string };
    const error = json.error;
    if (typeof error === 'string') message = error;
    else if (error !== undefined) {
      if (typeof error.message === 'string') message = error.message;
      if (typeof error.code === 'string') code = error.code;
      const inner = error.inner_error ?? error.innererror;
      if (inner !== undefined && typeof inner.code === 'string') innerCode = inner.code;
    }
  } catch {
    // Not JSON (a proxy's HTML page, a truncated body): the status decides.
  }
  const policyCodes = ['content_policy_violation', 'moderation_blocked', 'content_filter', 'ResponsibleAIPolicyViolation'];
  if (response.status === 400 && (policyCodes.includes(code) || policyCodes.includes(innerCode))) {
    return contentPolicyError(provider, message);
  }
  return errorForStatus(provider, response.status, response.headers, message);
}
