import type { ModelSpec } from '../../catalog/index.ts';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { CallContext, Channel, ProviderAdapter, ProviderResult } from '../types.ts';
import { openaiEdit, openaiVariation } from './edit.ts';
import { streamGeneration } from './stream.ts';
import { generationBody, readImagesResponse } from './wire.ts';

/**
 * OpenAI's images API, and any OpenAI-compatible upstream through `baseUrl` (CometAPI, LocalAI,
 * stable-diffusion.cpp's server, DeepInfra). `baseUrl` includes the version path, e.g.
 * `https://api.openai.com/v1`.
 */
export const openaiProvider: ProviderAdapter = {
  id: 'openai',

  maxImagesPerCall(model: ModelSpec): number {
    return model.maxN;
  },

  async generate(request: GenerationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult> {
    const upstreamModel = channel.models[request.model.id];
    if (upstreamModel === undefined) {
      throw new GatewayError('server_error', `Channel ${channel.id} was routed a model it does not serve.`);
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      // OpenAI echoes this in its logs, so a request can be traced across both sides.
      'x-client-request-id': ctx.requestId,
    };
    if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
    const organization = channel.options['organization'];
    if (organization !== undefined) headers['openai-organization'] = organization;
    const url = `${channel.baseUrl}/images/generations`;
    const body = generationBody(request, upstreamModel, { sendModel: true });
    const onPartial = ctx.onPartial;
    if (request.stream && onPartial !== undefined) return streamGeneration('openai', url, headers, body, request, channel, { ...ctx, onPartial });
    const response = await callUpstream(channel, { method: 'POST', url, headers, body: JSON.stringify(body), signal: ctx.signal });
    return readImagesResponse('openai', response, channel, ctx);
  },

  edit: openaiEdit,
  variation: openaiVariation,
};
