import { GatewayError } from '../../errors.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { ProviderAdapter, ProviderCall, ProviderResult } from '../types.ts';
import { type OpenRouterOptions, OpenRouterOptionsSchema } from './options.ts';
import { chatBody, readCompletion } from './wire.ts';

/**
 * OpenRouter (`https://openrouter.ai/api/v1`, Bearer key), an aggregator: any catalog model may be
 * routed here, and the channel's `models` map a catalog id to OpenRouter's model id, e.g.
 * `gemini-2.5-flash-image: google/gemini-2.5-flash-image`. Pictures come from chat completions
 * with `modalities: ["image","text"]` (wire.ts), one per call ("Multiple candidates is not
 * enabled" for Gemini, provider notes §11): the router fans `n` out.
 *
 * Refusals: `finish_reason: "content_filter"` (or Gemini's own reason) in an HTTP 200 without a
 * picture, and 403 with the moderation's `error.metadata.reasons`; both are
 * `content_policy_violation`. 402 (no credits) is a configuration error.
 */
export const openrouterProvider: ProviderAdapter<OpenRouterOptions> = {
  id: 'openrouter',
  defaultBaseUrl: 'https://openrouter.ai/api/v1',
  optionsSchema: OpenRouterOptionsSchema,
  serves: () => true,
  maxImagesPerCall: () => 1,

  async generate(request, call) {
    return complete(call, chatBody(request, call.upstreamModel, call.options), request.n);
  },

  async edit(request, call) {
    // A chat message shows the model pictures; there is no way to confine the edit to a mask.
    if (request.mask !== null) {
      throw new GatewayError('unsupported_parameter', "The openrouter provider does not take 'mask'; send the edit without one.", { param: 'mask' });
    }
    return complete(call, chatBody(request, call.upstreamModel, call.options, request.images), request.n);
  },
};

async function complete(call: ProviderCall<OpenRouterOptions>, body: Record<string, unknown>, wanted: number): Promise<ProviderResult> {
  const response = await callUpstream(call.channel, {
    method: 'POST',
    url: `${call.channel.baseUrl}/chat/completions`,
    headers: headersFor(call),
    body: JSON.stringify(body),
    signal: call.signal,
    retain: call.retain,
  });
  return readCompletion(response, call, wanted);
}

function headersFor(call: ProviderCall<OpenRouterOptions>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (call.channel.apiKey !== null) headers['authorization'] = `Bearer ${call.channel.apiKey}`;
  // App attribution (openrouter.ai/docs, "App Attribution"): both optional.
  if (call.options.referer !== undefined) headers['http-referer'] = call.options.referer;
  if (call.options.title !== undefined) headers['x-title'] = call.options.title;
  return headers;
}
