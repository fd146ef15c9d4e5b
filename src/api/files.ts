import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { type BlobExtension, parseContentKey } from '../storage/content-key.ts';
import type { UrlSigner } from '../storage/url-signer.ts';

export interface FileRoutesDeps {
  readonly blobs: BlobStore;
  readonly signer: UrlSigner;
  /** Unix seconds; injectable so tests can move time. */
  readonly now?: () => number;
}

const CONTENT_TYPES: Readonly<Record<BlobExtension, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/**
 * `GET /files/:day/:name?expires=…&sig=…` (and HEAD): the signed links of `url` responses.
 *
 * Checks run cheapest and least revealing first: the path must be exactly a content key (so
 * nothing a client writes ever reaches the file system), then the signature, and only then is
 * the store asked, so an unsigned request cannot learn whether a blob exists.
 */
export function registerFileRoutes(app: FastifyInstance, deps: FileRoutesDeps): void {
  const nowSeconds = deps.now ?? (() => Math.floor(Date.now() / 1000));

  // The router splits on literal `/` before decoding, so `%2F` stays inside one parameter (and is
  // then refused by the key grammar); it cannot add a path segment.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/files/:day/:name',
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const params = request.params as Record<string, unknown>;
      const key = `${stringParam(params['day'])}/${stringParam(params['name'])}`;
      const parts = parseContentKey(key);
      if (parts === null) throw notFound();

      const query = request.query as Record<string, unknown>;
      const expiresText = singleQueryValue(query['expires']);
      const sigText = singleQueryValue(query['sig']);
      if (expiresText === undefined || sigText === undefined) {
        throw new GatewayError('invalid_signature', 'This file link is not signed; use the URL from the images response as it is.');
      }
      const now = nowSeconds();
      const check = deps.signer.verify(key, expiresText, sigText, now);
      if (check === 'invalid') {
        throw new GatewayError('invalid_signature', 'The signature of this file link is not valid.');
      }
      if (check === 'expired') {
        throw new GatewayError('url_expired', 'This file link has expired; generate the image again for a new link.');
      }

      const blob = await deps.blobs.get(key);
      if (blob === null) throw notFound();

      // A signed, valid link: the expiry parsed as digits and is in the future.
      const maxAgeSeconds = Math.max(0, Number(expiresText) - now);
      void reply
        .header('content-type', CONTENT_TYPES[parts.extension])
        .header('content-length', String(blob.sizeBytes))
        // private: the link is a bearer credential for one caller's image; shared caches keep out.
        .header('cache-control', `private, max-age=${maxAgeSeconds}`)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', 'inline');
      if (request.method === 'HEAD') {
        // Headers only: close the file rather than read it for nothing.
        blob.stream.destroy();
        return reply.send();
      }
      return reply.send(blob.stream);
    },
  });
}

function notFound(): GatewayError {
  // Never echoes the path: it is attacker-chosen text.
  return new GatewayError('not_found', 'No such file.');
}

function stringParam(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A query value given exactly once; repeated (`?sig=a&sig=b`) or absent counts as missing. */
function singleQueryValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
