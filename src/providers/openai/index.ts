import type { ModelSpec } from '../../catalog/index.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { ProviderAdapter, ProviderCall } from '../types.ts';
import { editParts, postImagesForm, variationParts } from './form.ts';
import { type OpenAIOptions, OpenAIOptionsSchema } from './options.ts';
import { streamGeneration } from './stream.ts';
import { generationBody, readImagesResponse } from './wire.ts';

/**
 * OpenAI's images API, and any OpenAI-compatible upstream through `baseUrl` (CometAPI, LocalAI,
 * stable-diffusion.cpp's server, DeepInfra). `baseUrl` includes the version path, e.g.
 * `https://api.openai.com/v1`. Any catalog model may be routed here: compatible servers carry
 * models of every maker, and the model's `openaiWire` says which fields to send.
 */
export const openaiProvider: ProviderAdapter<OpenAIOptions> = {
  id: 'openai',
  optionsSchema: OpenAIOptionsSchema,
  serves: () => true,
  maxImagesPerCall: (model: ModelSpec) => model.maxN,

  async generate(request, call) {
    const url = `${call.channel.baseUrl}/images/generations`;
    const headers = { ...openaiHeaders(call), 'content-type': 'application/json', accept: 'application/json' };
    const body = generationBody(request, call.upstreamModel, { sendModel: true });
    const onPartial = call.onPartial;
    if (request.stream && onPartial !== undefined) return streamGeneration('openai', url, headers, body, request, { ...call, onPartial });
    const response = await callUpstream(call.channel, { method: 'POST', url, headers, body: JSON.stringify(body), signal: call.signal, retain: call.retain });
    return readImagesResponse('openai', response, call.channel, call);
  },

  async edit(request, call) {
    const parts = editParts(request, call.upstreamModel, { sendModel: true });
    return postImagesForm('openai', `${call.channel.baseUrl}/images/edits`, openaiHeaders(call), parts, call);
  },

  async variation(request, call) {
    const parts = variationParts(request, call.upstreamModel, { sendModel: true });
    return postImagesForm('openai', `${call.channel.baseUrl}/images/variations`, openaiHeaders(call), parts, call);
  },
};

/** OpenAI's own headers: bearer key, organization, our request id echoed in its logs. */
function openaiHeaders(call: ProviderCall<OpenAIOptions>): Record<string, string> {
  // OpenAI echoes x-client-request-id in its logs, so a request can be traced across both sides.
  const headers: Record<string, string> = { 'x-client-request-id': call.requestId };
  if (call.channel.apiKey !== null) headers['authorization'] = `Bearer ${call.channel.apiKey}`;
  if (call.options.organization !== undefined) headers['openai-organization'] = call.options.organization;
  return headers;
}
