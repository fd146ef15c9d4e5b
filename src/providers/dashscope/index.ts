import type { ModelSpec } from '../../catalog/index.ts';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import type { CallContext, Channel, ProviderAdapter, ProviderResult } from '../types.ts';
import { generateWithTask } from './async-task.ts';
import { generateWithMultimodal } from './multimodal.ts';
import { dashscopeOptions } from './options.ts';

/**
 * Alibaba DashScope (Model Studio) for the qwen-image family (provider notes §2). `baseUrl` is the
 * region's host (see http.ts), `models` maps `qwen-image` to an upstream model such as
 * `qwen-image-plus` or `qwen-image-max`, and `options.mode` picks the API:
 * - `async` (default for qwen-image, qwen-image-plus): a task, polled until done (async-task.ts);
 * - `sync` (default for qwen-image-max, qwen-image-2.x/3.x): one multimodal-generation call
 *   (multimodal.ts).
 * Other options: `promptExtend`, `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs` (options.ts).
 */
export const dashscopeProvider: ProviderAdapter = {
  id: 'dashscope',

  maxImagesPerCall(_model: ModelSpec): number {
    // qwen-image's async API takes n=1 only. The sync models take up to 6, but this method does
    // not see the channel (hence its mode), and the catalog caps qwen-image at n=1 anyway; the
    // router fans out anything above it.
    return 1;
  },

  async generate(request: GenerationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult> {
    const upstreamModel = channel.models[request.model.id];
    if (upstreamModel === undefined) {
      throw new GatewayError('server_error', `Channel ${channel.id} was routed a model it does not serve.`);
    }
    const options = dashscopeOptions(channel, upstreamModel);
    return options.mode === 'async'
      ? generateWithTask(request, channel, upstreamModel, options, ctx)
      : generateWithMultimodal(request, channel, upstreamModel, options, ctx);
  },
};
