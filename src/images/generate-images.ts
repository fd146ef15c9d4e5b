import { randomUUID } from 'node:crypto';
import { computeUsage, formatSize } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { ImagesRepo } from '../db/images-repo.ts';
import type { NewImageRow } from '../db/schema.ts';
import { mimeOf } from '../media/sniff.ts';
import { normalizeImage } from '../media/normalize.ts';
import type { Router } from '../routing/router.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { contentKey } from '../storage/content-key.ts';
import type { UrlSigner } from '../storage/url-signer.ts';
import type { ImageData, ImagesResponse } from './images-response.ts';

export interface GenerateDeps {
  readonly router: Router;
  readonly blobs: BlobStore;
  readonly images: ImagesRepo;
  readonly signer: UrlSigner;
  readonly urlTtlSeconds: number;
  readonly retentionSeconds: number;
  readonly now: () => number;
}

export interface GenerateContext {
  readonly apiKeyId: string;
  readonly requestId: string;
  readonly signal: AbortSignal;
}

export interface GenerateOutcome {
  readonly body: ImagesResponse;
  readonly provider: string;
  readonly channel: string;
  readonly attempts: number;
}

/**
 * One generation, from a validated request to the response body: route, call the provider,
 * normalize each image to what was asked, store it with its record, then answer. An image is
 * answered only after its bytes and its record are stored.
 */
export async function generateImages(deps: GenerateDeps, request: GenerationRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
  const { result, channel, attempts } = await deps.router.execute(request, ctx);
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
  const rows: NewImageRow[] = [];
  for (const image of normalized) {
    const key = contentKey(image.bytes, image.format, createdAt);
    await deps.blobs.put(key, image.bytes, mimeOf(image.format));
    rows.push({
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
    });
  }
  await deps.images.insertMany(rows);

  const urlExpiresAtSeconds = Math.floor(nowMs / 1000) + Math.min(deps.urlTtlSeconds, deps.retentionSeconds);
  const data: ImageData[] = normalized.map((image, index) => {
    const revised = request.model.revisesPrompt ? (result.images[index]?.revisedPrompt ?? request.prompt) : undefined;
    const revisedField = revised === undefined ? {} : { revised_prompt: revised };
    const row = rows[index];
    if (request.responseFormat === 'url' && row !== undefined) {
      return { url: deps.signer.sign(row.blob_key, urlExpiresAtSeconds), ...revisedField };
    }
    const original = result.images[index];
    const base64 = original?.base64 !== undefined && original.bytes === image.bytes ? original.base64 : image.bytes.toString('base64');
    return { b64_json: base64, ...revisedField };
  });

  const body: ImagesResponse = { created: Math.floor(nowMs / 1000), data };
  if (request.model.family === 'gpt-image') {
    const first = normalized[0];
    body.background = request.background;
    body.output_format = request.outputFormat;
    body.quality = request.quality;
    body.size = first === undefined ? formatSize(size) : `${first.width}x${first.height}`;
    body.usage = result.usage ?? computeUsage(request.model, request.quality, size, request.n, request.prompt);
  }
  return { body, provider: channel.provider, channel: channel.id, attempts };
}
