import { z } from 'zod';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { callDashScope } from './http.ts';
import type { DashScopeOptions } from './options.ts';
import { reportedSize, upstreamSize, wireSize } from './sizes.ts';

const GENERATION_PATH = '/api/v1/services/aigc/multimodal-generation/generation';

/** The sync API's `output`: one choice per image, its content a list of `{image}` and `{text}` parts. */
const OutputSchema = z.looseObject({
  choices: z
    .array(z.looseObject({ message: z.looseObject({ content: z.array(z.looseObject({ image: z.string().nullish(), text: z.string().nullish() })) }) }))
    .min(1),
});

/**
 * The sync multimodal-generation API (qwen-image-max, qwen-image-2.x/3.x; provider notes §2b):
 * the prompt goes in as a chat message, the answer holds one choice per image whose content lists
 * `{image: url}` and, sometimes, a `{text}` (the extended prompt, kept as the revised prompt).
 * This API refuses the X-DashScope-Async header, so none is sent.
 */
export async function generateWithMultimodal(request: GenerationRequest, call: ProviderCall<DashScopeOptions>): Promise<ProviderResult> {
  const { upstreamModel, options } = call;
  const size = upstreamSize(request.size, upstreamModel);
  const parameters: Record<string, unknown> = { size: wireSize(size), n: request.n, watermark: false, prompt_extend: options.promptExtend };
  if (request.seed !== null) parameters['seed'] = request.seed;
  if (request.negativePrompt !== null) parameters['negative_prompt'] = request.negativePrompt;
  const answer = await callDashScope(call, {
    method: 'POST',
    path: GENERATION_PATH,
    body: { model: upstreamModel, input: { messages: [{ role: 'user', content: [{ text: request.prompt }] }] }, parameters },
  });

  const output = parseWire('dashscope', OutputSchema, answer.output, 'the generation output');
  const wanted: Array<{ url: string; revisedPrompt: string | undefined }> = [];
  for (const choice of output.choices) {
    const parts = choice.message.content;
    const text = parts.find((part) => typeof part.text === 'string' && part.text !== '')?.text ?? undefined;
    for (const part of parts) {
      if (typeof part.image === 'string' && part.image !== '') wanted.push({ url: part.image, revisedPrompt: text });
    }
  }
  if (wanted.length === 0) throw malformedResponse('dashscope', 'the answer holds no image');

  // The URLs are signed and expire (provider notes §10.3): fetch them now.
  const images: ProviderImage[] = await Promise.all(
    wanted.map(async ({ url, revisedPrompt }) => ({
      bytes: await call.channel.http.download(url, call.signal),
      mime: 'image/png',
      ...(revisedPrompt === undefined ? {} : { revisedPrompt }),
    })),
  );
  const resized = size.width !== request.size.width || size.height !== request.size.height;
  const delivered = reportedSize(answer.usage) ?? (resized ? size : undefined);
  return { images, ...(delivered === undefined ? {} : { deliveredSize: delivered }) };
}
