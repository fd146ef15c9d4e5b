import type { FastifyInstance } from 'fastify';
import type { ImagesRepo } from '../db/images-repo.ts';
import type { ImageRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import { requireApiKey } from './auth.ts';

export interface HistoryDeps {
  readonly images: ImagesRepo;
  readonly links: LinkSigner;
  readonly urlTtlSeconds: number;
  readonly now: () => number;
}

const MAX_PAGE = 100;

/**
 * `GET /v1/images` and `GET /v1/images/{id}`: every image a key was charged for, while it is
 * retained, with a fresh link, so a client that lost its connection can still fetch what it paid
 * for. A key sees only its own images; another key's id is a 404, as if it did not exist.
 */
export function registerHistoryRoutes(app: FastifyInstance, deps: HistoryDeps): void {
  app.get<{ Querystring: Record<string, string> }>('/v1/images', async (request) => {
    const apiKey = requireApiKey(request);
    const limit = parseLimit(request.query['limit']);
    const after = request.query['after'];
    const nowMs = deps.now();
    const rows = await deps.images.listOwned(apiKey.id, nowMs, limit + 1, after === '' ? undefined : after);
    const page = rows.slice(0, limit);
    return {
      object: 'list',
      data: await Promise.all(page.map((row) => describe(row, deps, nowMs))),
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: rows.length > limit,
    };
  });

  app.get<{ Params: { id: string } }>('/v1/images/:id', async (request) => {
    const apiKey = requireApiKey(request);
    const nowMs = deps.now();
    const row = await deps.images.getOwned(apiKey.id, request.params.id, nowMs);
    if (row === undefined) throw new GatewayError('not_found', `No image '${request.params.id}'.`, { param: 'id' });
    return describe(row, deps, nowMs);
  });
}

async function describe(row: ImageRow, deps: HistoryDeps, nowMs: number) {
  const expiresAtSeconds = Math.min(Math.floor(nowMs / 1000) + deps.urlTtlSeconds, Math.floor(row.expires_at_ms / 1000));
  return {
    id: row.id,
    object: 'image',
    created: Math.floor(row.created_at_ms / 1000),
    request_id: row.request_id,
    model: row.model,
    provider: row.provider,
    output_format: row.format,
    size: `${row.width}x${row.height}`,
    bytes: row.size_bytes,
    url: await deps.links.sign(row.blob_key, expiresAtSeconds),
    url_expires_at: expiresAtSeconds,
    expires_at: Math.floor(row.expires_at_ms / 1000),
  };
}

function parseLimit(text: string | undefined): number {
  if (text === undefined || text === '') return 20;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new GatewayError('invalid_value', `Invalid value for 'limit': a whole number from 1 to ${MAX_PAGE}.`, { param: 'limit' });
  }
  return limit;
}
