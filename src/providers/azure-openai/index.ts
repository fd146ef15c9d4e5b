import type { ModelSpec } from '../../catalog/index.ts';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { azureOpenAIEdit } from '../openai/edit.ts';
import { generationBody, readImagesResponse } from '../openai/wire.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { CallContext, Channel, ProviderAdapter, ProviderResult } from '../types.ts';

/**
 * The api-version used when the channel names none: the first one that serves gpt-image-1 as well
 * as dall-e-3 (provider notes §1b). Operators pin another with `options.apiVersion`.
 */
const DEFAULT_API_VERSION = '2025-04-01-preview';

/**
 * Azure OpenAI's images API: OpenAI's body and answer (`openai/wire.ts`) behind Azure's URLs and
 * `api-key` header. `baseUrl` is the resource endpoint without a path, e.g.
 * `https://my-resource.openai.azure.com` (or `https://my-resource.services.ai.azure.com`), and
 * `models` maps each catalog model to a deployment name.
 *
 * Two URL schemes (Portkey's azure-openai/api.ts, provider notes §1b):
 * - classic: `/openai/deployments/{deployment}/images/generations?api-version=…`; the deployment
 *   decides the model, so the body carries none;
 * - `options.apiVersion: v1`: `/openai/v1/images/generations` with no api-version, and the
 *   deployment name in the body's `model`.
 *
 * Azure's extra `content_filter_results`/`prompt_filter_results` keys are ignored and its safety
 * refusal (400 with `inner_error.code: ResponsibleAIPolicyViolation`) becomes a
 * `content_policy_violation`, both in `readImagesResponse`.
 */
export const azureOpenAIProvider: ProviderAdapter = {
  id: 'azure-openai',

  maxImagesPerCall(model: ModelSpec): number {
    // Azure's dall-e-3 deployments take n=1 only, like OpenAI's (provider notes §10.2).
    return model.id === 'dall-e-3' ? 1 : model.maxN;
  },

  async generate(request: GenerationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult> {
    const deployment = channel.models[request.model.id];
    if (deployment === undefined) {
      throw new GatewayError('server_error', `Channel ${channel.id} was routed a model it does not serve.`);
    }
    const apiVersion = channel.options['apiVersion'] ?? DEFAULT_API_VERSION;
    const v1 = apiVersion === 'v1';
    const url = v1
      ? `${channel.baseUrl}/openai/v1/images/generations`
      : `${channel.baseUrl}/openai/deployments/${encodeURIComponent(deployment)}/images/generations?api-version=${encodeURIComponent(apiVersion)}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (channel.apiKey !== null) headers['api-key'] = channel.apiKey;
    const response = await callUpstream(channel, {
      method: 'POST',
      url,
      headers,
      body: JSON.stringify(generationBody(request, deployment, { sendModel: v1 })),
      signal: ctx.signal,
    });
    return readImagesResponse('azure-openai', response, channel, ctx);
  },

  edit: (request, channel, ctx) => azureOpenAIEdit(request, channel, ctx, DEFAULT_API_VERSION),
};
