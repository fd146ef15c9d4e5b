import { randomUUID } from 'node:crypto';
import { formatSize } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { NewImageRow } from '../db/schema.ts';
import { deliveredCostMicroUsd } from '../ledger/pricing.ts';
import { trustedUsage } from '../ledger/usage-guard.ts';
import { normalizeImage } from '../media/normalize.ts';
import { mimeOf } from '../media/sniff.ts';
import type { RouteOutcome } from '../routing/router.ts';
import { contentKeyOffThread } from '../storage/content-key.ts';
import type { GenerateContext, GenerateDeps, GenerateOutcome } from './generate-images.ts';
import type { ImageData, ImagesResponse } from './images-response.ts';

/** What delivering needs: storage, records, links (not the router or the ledger). */
export type DeliverDeps = Pick<GenerateDeps, 'blobs' | 'images' | 'links' | 'urlTtlSeconds' | 'retentionSeconds' | 'now' | 'anomalies'>;

/**
 * The second half of every images request, once a provider has answered: normalize each image to
 * what was asked (format, compression, size, background), store its bytes and its record, build
 * the OpenAI response (url or b64_json; background/output_format/quality/size/usage for GPT image
 * models) and price what was delivered. Shared by generations, edits and variations.
 *
 * `imageInputTokens` counts input images (edits) in the usage computed when the upstream reports
 * none; an upstream's own usage is passed on as it is.
 */
export async function deliverImages(
  deps: DeliverDeps,
  request: GenerationRequest,
  routed: RouteOutcome,
  ctx: Pick<GenerateContext, 'apiKeyId' | 'requestId' | 'signal'>,
  imageInputTokens = 0,
): Promise<GenerateOutcome> {
  const { result, channel, attempts } = routed;
  // qwen-image maps sizes to its own list; the image is checked against what was delivered.
  const size = result.deliveredSize ?? request.size;

  const normalized = await Promise.all(
    result.images.map((image) =>
      normalizeImage(image.bytes, {
        format: request.outputFormat,
        compressionPct: request.outputCompression,
        size,
        transparent: request.background === 'transparent',
      }),
    ),
  );
  ctx.signal.throwIfAborted();

  const nowMs = deps.now();
  const createdAt = new Date(nowMs);
  const rows: NewImageRow[] = await Promise.all(
    normalized.map(async (image) => {
      const key = await contentKeyOffThread(image.bytes, image.format, createdAt);
      await deps.blobs.put(key, image.bytes, mimeOf(image.format));
      return {
        id: `img_${randomUUID().replaceAll('-', '')}`,
        api_key_id: ctx.apiKeyId,
        request_id: ctx.requestId,
        model: request.model.id,
        provider: channel.provider,
        blob_key: key,
        format: image.format,
        width: image.width,
        height: image.height,
        size_bytes: image.bytes.length,
        created_at_ms: nowMs,
        expires_at_ms: nowMs + deps.retentionSeconds * 1000,
      };
    }),
  );
  // The records are written by the caller: with the charge, in one transaction (see Ledger.settle).

  const urlExpiresAtSeconds = Math.floor(nowMs / 1000) + Math.min(deps.urlTtlSeconds, deps.retentionSeconds);
  const data: ImageData[] = await Promise.all(
    normalized.map(async (image, index) => {
      const revised = request.model.revisesPrompt ? (result.images[index]?.revisedPrompt ?? request.prompt) : undefined;
      const revisedField = revised === undefined ? {} : { revised_prompt: revised };
      const row = rows[index];
      if (request.responseFormat === 'url' && row !== undefined) {
        return { url: await deps.links.sign(row.blob_key, urlExpiresAtSeconds), ...revisedField };
      }
      const original = result.images[index];
      const base64 = original?.base64 !== undefined && original.bytes === image.bytes ? original.base64 : image.bytes.toString('base64');
      return { b64_json: base64, ...revisedField };
    }),
  );

  // The upstream's usage is checked against what the request can have used (estimate otherwise).
  const usage = request.model.tokens === null ? null : trustedUsage(deps.anomalies, { request, size, reported: result.usage, imageInputTokens, upstreamCalls: attempts, channel: channel.id, requestId: ctx.requestId });
  const body: ImagesResponse = { created: Math.floor(nowMs / 1000), data };
  if (request.model.family === 'gpt-image') {
    const first = normalized[0];
    body.background = request.background;
    body.output_format = request.outputFormat;
    body.quality = request.quality;
    body.size = first === undefined ? formatSize(size) : `${first.width}x${first.height}`;
    if (usage !== null) body.usage = usage;
  }
  const costMicroUsd = deliveredCostMicroUsd(request, size, request.n, usage);
  return { body, provider: channel.provider, channel: channel.id, attempts, costMicroUsd, records: rows, usage, size };
}
