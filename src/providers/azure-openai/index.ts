import { z } from 'zod';
import type { ModelSpec } from '../../catalog/index.ts';
import { editParts, postImagesForm } from '../openai/form.ts';
import { generationBody, readImagesResponse } from '../openai/wire.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { ProviderAdapter, ProviderCall } from '../types.ts';

/**
 * The api-version used when the channel names none: the first one that serves gpt-image-1 as well
 * as dall-e-3 (provider notes §1b). Operators pin another with `options.apiVersion`.
 */
const DEFAULT_API_VERSION = '2025-04-01-preview';

const AzureOptionsSchema = z.strictObject({
  /** A dated api-version (`2025-04-01-preview`), or `v1` for the `/openai/v1/…` routes. */
  apiVersion: z
    .string()
    .regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, "use 'v1' or a dated api-version such as 2025-04-01-preview")
    .default(DEFAULT_API_VERSION),
});
type AzureOptions = z.infer<typeof AzureOptionsSchema>;

/**
 * Azure OpenAI's images API: OpenAI's body and answer (`openai/wire.ts`) behind Azure's URLs and
 * `api-key` header. `baseUrl` is the resource endpoint without a path, e.g.
 * `https://my-resource.openai.azure.com` (or `https://my-resource.services.ai.azure.com`), and
 * `models` maps each catalog model to a deployment name.
 *
 * Two URL schemes (Portkey's azure-openai/api.ts, provider notes §1b):
 * - classic: `/openai/deployments/{deployment}/images/{operation}?api-version=…`; the deployment
 *   decides the model, so the body carries none;
 * - `options.apiVersion: v1`: `/openai/v1/images/{operation}` with no api-version, and the
 *   deployment name in the body's `model`.
 *
 * Azure's extra `content_filter_results`/`prompt_filter_results` keys are ignored and its safety
 * refusal (400 with `inner_error.code: ResponsibleAIPolicyViolation`) becomes a
 * `content_policy_violation`, both in `readImagesResponse`.
 */
export const azureOpenAIProvider: ProviderAdapter<AzureOptions> = {
  id: 'azure-openai',
  optionsSchema: AzureOptionsSchema,
  // Azure OpenAI deploys OpenAI's own models.
  serves: (model: ModelSpec) => model.ownedBy === 'openai' || `Azure OpenAI deploys OpenAI's models; ${model.id} is owned by ${model.ownedBy}`,
  maxImagesPerCall: (model: ModelSpec) => model.maxN,

  async generate(request, call) {
    const response = await callUpstream(call.channel, {
      method: 'POST',
      url: azureUrl(call, 'generations'),
      headers: { ...azureHeaders(call), 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(generationBody(request, call.upstreamModel, { sendModel: call.options.apiVersion === 'v1' })),
      signal: call.signal,
      retain: call.retain,
    });
    return readImagesResponse('azure-openai', response, call.channel, call);
  },

  async edit(request, call) {
    const parts = editParts(request, call.upstreamModel, { sendModel: call.options.apiVersion === 'v1' });
    return postImagesForm('azure-openai', azureUrl(call, 'edits'), azureHeaders(call), parts, call);
  },
};

function azureUrl(call: ProviderCall<AzureOptions>, operation: 'generations' | 'edits'): string {
  const { baseUrl } = call.channel;
  const { apiVersion } = call.options;
  if (apiVersion === 'v1') return `${baseUrl}/openai/v1/images/${operation}`;
  return `${baseUrl}/openai/deployments/${encodeURIComponent(call.upstreamModel)}/images/${operation}?api-version=${encodeURIComponent(apiVersion)}`;
}

function azureHeaders(call: ProviderCall<AzureOptions>): Record<string, string> {
  return call.channel.apiKey === null ? {} : { 'api-key': call.channel.apiKey };
}
