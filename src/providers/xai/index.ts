import { z } from 'zod';
import type { ModelSpec } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import type { ProviderAdapter, ProviderCall } from '../types.ts';
import { editBody, generationBody, readAnswer } from './wire.ts';

/** xAI channels take no options: the key, base URL and model map say everything. */
const XaiOptionsSchema = z.strictObject({});
type XaiOptions = z.infer<typeof XaiOptionsSchema>;

/** xAI takes `n` from 1 to 10 in one call (provider notes §10.2). */
const MAX_IMAGES_PER_CALL = 10;

/**
 * xAI's Grok Imagine models (`https://api.x.ai/v1`, Bearer key; provider notes §9, §11): OpenAI's
 * images paths and answer, but the request names an aspect ratio and a resolution instead of a
 * size (wire.ts), and refusals arrive as HTTP 200 answers without images. `models` maps a catalog
 * id to xAI's model name, e.g. `grok-imagine-image: grok-imagine-image`.
 */
export const xaiProvider: ProviderAdapter<XaiOptions> = {
  id: 'xai',
  defaultBaseUrl: 'https://api.x.ai/v1',
  optionsSchema: XaiOptionsSchema,
  serves: (model: ModelSpec) => model.ownedBy === 'xai' || `xAI serves its own Grok Imagine models; ${model.id} is owned by ${model.ownedBy}`,
  maxImagesPerCall: (model: ModelSpec) => Math.min(MAX_IMAGES_PER_CALL, model.maxN),

  async generate(request, call) {
    return post(call, '/images/generations', generationBody(request, call.upstreamModel));
  },

  async edit(request, call) {
    // xAI's edit API has no mask: an edit confined to a masked region cannot be honoured.
    if (request.mask !== null) {
      throw new GatewayError('unsupported_parameter', "The xai provider does not take 'mask'; send the edit without one.", { param: 'mask' });
    }
    return post(call, '/images/edits', editBody(request, call.upstreamModel));
  },
};

async function post(call: ProviderCall<XaiOptions>, path: string, body: Record<string, unknown>) {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (call.channel.apiKey !== null) headers['authorization'] = `Bearer ${call.channel.apiKey}`;
  const response = await callUpstream(call.channel, {
    method: 'POST',
    url: `${call.channel.baseUrl}${path}`,
    headers,
    body: JSON.stringify(body),
    signal: call.signal,
    retain: call.retain,
  });
  return readAnswer(response, call);
}
