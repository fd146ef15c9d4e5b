import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.ts';
import { type IdempotencyStore, requestFingerprint, type StoredResponse } from '../limits/index.ts';
import { resolveStoredBody } from '../images/stored-body.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import { sendJsonBody } from './send-body.ts';

/** How long a finished request can be replayed by its `Idempotency-Key`. */
const REPLAY_TTL_MS = 24 * 60 * 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** A response about to be sent: bytes (whole or in pieces), so large image bodies are never re-encoded. */
export interface ProducedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | readonly Buffer[];
  /** What a replay keeps instead of the body: its images as references to storage (stored-body.ts). */
  readonly kept: string;
}

export interface IdempotencyDeps {
  readonly store: IdempotencyStore;
  /** Sign the links, and read the images, of a replayed answer. */
  readonly links: LinkSigner;
  readonly blobs: BlobStore;
  readonly urlTtlSeconds: number;
  readonly now: () => number;
  /** Longer than any request's deadline, so a slow first request is never run a second time. */
  readonly inProgressTtlMs: number;
}

/**
 * `Idempotency-Key` on a POST: the same key and body within 24 h replays the first response
 * (its images included, rebuilt from storage with freshly signed links) without a second upstream call or charge; the
 * same key with another body is a 422; a retry while the first still runs is a 409. Without the
 * header the request simply runs. Keys are scoped to the API key, so callers cannot collide.
 */
export async function withIdempotency(
  deps: IdempotencyDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: string,
  run: () => Promise<ProducedResponse>,
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return send(reply, await run());
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
    throw new GatewayError('invalid_value', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.', { param: 'Idempotency-Key' });
  }
  const fingerprint = requestFingerprint(request.method, request.routeOptions.url ?? request.url, JSON.stringify(request.body ?? null));
  const state = await deps.store.begin(scope, header, fingerprint, deps.inProgressTtlMs);
  switch (state.state) {
    case 'in_progress':
      throw new GatewayError('idempotency_conflict', 'A request with this Idempotency-Key is still running; retry when it has finished.', {
        retryAfterSeconds: 1,
      });
    case 'mismatch':
      throw new GatewayError('idempotency_key_reused', 'This Idempotency-Key was used for a different request body.', { param: 'Idempotency-Key' });
    case 'done':
      void reply.header('idempotent-replayed', 'true');
      return send(reply, { ...state.response, body: await resolveStoredBody(state.response.body, deps, Math.floor(deps.now() / 1000) + deps.urlTtlSeconds) });
    case 'started':
      break;
  }
  let response: ProducedResponse;
  try {
    response = await run();
  } catch (err) {
    await deps.store.abandon(scope, header);
    throw err;
  }
  await deps.store.complete(scope, header, { status: response.status, headers: response.headers, body: response.kept }, REPLAY_TTL_MS);
  return send(reply, response);
}

function send(reply: FastifyReply, response: Pick<ProducedResponse, 'status' | 'headers' | 'body'> | StoredResponse): FastifyReply {
  return sendJsonBody(reply, response.status, response.headers, response.body);
}
