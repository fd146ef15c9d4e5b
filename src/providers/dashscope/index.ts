import type { ModelSpec } from '../../catalog/index.ts';
import type { ProviderAdapter } from '../types.ts';
import { generateWithTask } from './async-task.ts';
import { generateWithMultimodal } from './multimodal.ts';
import { type DashScopeOptions, DashScopeOptionsSchema, modeFor } from './options.ts';

/**
 * Alibaba DashScope (Model Studio) for Alibaba's image models (provider notes §2). `baseUrl` is the
 * region's host (see http.ts), `models` maps `qwen-image` to an upstream model such as
 * `qwen-image-plus` or `qwen-image-max`, and `options.mode` picks the API:
 * - `async` (default for qwen-image, qwen-image-plus): a task, polled until done (async-task.ts);
 * - `sync` (default for qwen-image-max, qwen-image-2.x/3.x): one multimodal-generation call
 *   (multimodal.ts).
 */
export const dashscopeProvider: ProviderAdapter<DashScopeOptions> = {
  id: 'dashscope',
  optionsSchema: DashScopeOptionsSchema,
  serves: (model: ModelSpec) => model.ownedBy === 'alibaba' || `DashScope serves Alibaba's models; ${model.id} is owned by ${model.ownedBy}`,

  // qwen-image's async API takes n=1 only; the sync models take up to 6, and the router fans
  // out anything above what one call may make.
  maxImagesPerCall: (model, options) => (options.mode === 'sync' ? Math.min(6, model.maxN) : 1),

  async generate(request, call) {
    return modeFor(call.options, call.upstreamModel) === 'async' ? generateWithTask(request, call) : generateWithMultimodal(request, call);
  },
};
