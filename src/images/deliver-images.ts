import { randomUUID } from 'node:crypto';
import { formatSize } from '../catalog/index.ts';
import type { ImageParams } from '../contract/generation-request.ts';
import type { NewImageRow } from '../db/schema.ts';
import { deliveredCostMicroUsd } from '../ledger/pricing.ts';
import { trustedUsage } from '../ledger/usage-guard.ts';
import { base64Bytes, encodeBase64 } from '../media/base64.ts';
import { normalizeImage } from '../media/normalize.ts';
import { mimeOf } from '../media/sniff.ts';
import type { RouteOutcome } from '../routing/router.ts';
import { contentKeyOffThread } from '../storage/content-key.ts';
import type { ImageData, ImagesResponse } from './images-response.ts';
import type { ImagesDeps, ImagesOutcome } from './types.ts';

/** What delivering needs: storage, records, links (not the router or the ledger). */
export type DeliverDeps = Pick<ImagesDeps, 'blobs' | 'images' | 'links' | 'urlTtlSeconds' | 'retentionSeconds' | 'now' | 'anomalies'>;

/**
 * The second half of every images request, once a provider has answered: normalize each image to
 * what was asked (format, compression, size, background), store its bytes and build its record,
 * build the OpenAI response (url or b64_json, and the fields the model's `responseFields` list)
 * and price what was delivered. No money moves and no record is written here: the use case
 * writes the records with the charge, in one transaction.
 *
 * `imageInputTokens` counts input images (edits) in the usage computed when the upstream reports
 * none; an upstream's own usage is passed on as it is.
 */
export async function deliverImages(
  deps: DeliverDeps,
  request: ImageParams,
  routed: RouteOutcome,
  caller: { readonly apiKeyId: string; readonly requestId: string; readonly signal: AbortSignal },
  imageInputTokens: number,
): Promise<Omit<ImagesOutcome, 'rateHeaders'>> {
  const { result, channel, attempts } = routed;
  // Sizes the upstream says it delivered win (qwen-image maps sizes to its own list); aspect-ratio
  // models pick their exact pixels themselves, so their images keep what they were drawn at.
  const target = result.deliveredSize ?? (request.model.size.kind === 'aspect' ? null : request.size);

  const normalized = await Promise.all(
    result.images.map((image) =>
      normalizeImage(image.bytes, {
        format: request.outputFormat,
        compressionPct: request.outputCompression,
        size: target,
        transparent: request.background === 'transparent',
      }),
    ),
  );
  caller.signal.throwIfAborted();

  const nowMs = deps.now();
  const createdAt = new Date(nowMs);
  const rows: NewImageRow[] = await Promise.all(
    normalized.map(async (image) => {
      const key = await contentKeyOffThread(image.bytes, image.format, createdAt);
      await deps.blobs.put(key, image.bytes, mimeOf(image.format));
      return {
        id: `img_${randomUUID().replaceAll('-', '')}`,
        api_key_id: caller.apiKeyId,
        request_id: caller.requestId,
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
      // The upstream's own base64 when the bytes went through untouched: no second encoding.
      const base64 = original?.base64 !== undefined && original.bytes === image.bytes ? base64Bytes(original.base64) : encodeBase64(image.bytes);
      return { b64_json: base64, ...revisedField };
    }),
  );

  const first = normalized[0];
  const size = first === undefined ? (target ?? request.size) : { width: first.width, height: first.height };
  // Priced (and tokens estimated) at the size the catalog knows: what was asked, or what the
  // upstream says it delivered; an aspect model's exact pixels are not in any price table.
  const pricedSize = target ?? request.size;
  // The upstream's usage is checked against what the request can have used (estimate otherwise).
  const usage =
    request.model.tokens === null
      ? null
      : trustedUsage(deps.anomalies, {
          request,
          size: pricedSize,
          reported: result.usage,
          imageInputTokens,
          upstreamCalls: attempts,
          channel: channel.id,
          requestId: caller.requestId,
        });
  const body: ImagesResponse = { created: Math.floor(nowMs / 1000), data };
  const fields = new Set(request.model.responseFields);
  if (fields.has('background')) body.background = request.background;
  if (fields.has('output_format')) body.output_format = request.outputFormat;
  if (fields.has('quality')) body.quality = request.quality;
  const asked = request.askedSize;
  const deliveredSizeDiffers = asked !== null && (size.width !== asked.width || size.height !== asked.height);
  // Whenever a model delivers a size other than the one asked, the response says so.
  if (fields.has('size') || deliveredSizeDiffers) body.size = formatSize(size);
  if (fields.has('usage') && usage !== null) body.usage = usage;
  const costMicroUsd = deliveredCostMicroUsd(request, pricedSize, request.n, usage);
  return {
    body,
    provider: channel.provider,
    channel: channel.id,
    attempts,
    costMicroUsd,
    records: rows,
    usage,
    size,
    droppedParams: request.droppedParams,
    deliveredSizeDiffers,
  };
}
