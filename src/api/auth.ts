import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashKey, hashesEqual } from '../auth/api-key-secret.ts';
import type { KeysRepo } from '../db/keys-repo.ts';
import { GatewayError } from '../errors.ts';
import { type ApiKey, toApiKey } from '../keys/api-key.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key, set by the auth hook on every `/v1` route. */
    apiKey: ApiKey | null;
  }
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * `Authorization: Bearer <key>` on every `/v1` route. Keys are found by their SHA-256; the hash
 * compare is constant-time so the check leaks nothing about how close a guess was. Messages never
 * echo what was sent.
 */
export function authHook(keys: KeysRepo, role: 'user' | 'admin', now: () => number) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw new GatewayError('invalid_api_key', "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer YOUR_KEY'.");
    }
    const match = BEARER.exec(header);
    const plaintext = match?.[1];
    if (plaintext === undefined) {
      throw new GatewayError('invalid_api_key', "The Authorization header must be 'Bearer YOUR_KEY'.");
    }
    const hash = hashKey(plaintext);
    const row = await keys.findByHash(hash);
    if (row === undefined || !hashesEqual(row.key_hash, hash)) {
      throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
    }
    if (row.revoked_at_ms !== null) {
      throw new GatewayError('invalid_api_key', 'This API key has been revoked.');
    }
    if (row.expires_at_ms !== null && row.expires_at_ms <= now()) {
      throw new GatewayError('invalid_api_key', 'This API key has expired.');
    }
    if (row.role !== role) {
      throw new GatewayError(
        'invalid_api_key',
        role === 'admin' ? 'This route needs an admin key.' : 'Admin keys manage the gateway; use a user key for the API.',
      );
    }
    request.apiKey = toApiKey(row);
  };
}

export function requireApiKey(request: FastifyRequest): ApiKey {
  // Routes under /v1 only run after the auth hook has set the key.
  if (request.apiKey === null) throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
  return request.apiKey;
}
