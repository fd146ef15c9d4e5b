import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * Sends a JSON body given whole or as pieces (images-response-body.ts). Pieces go to the socket
 * one after another without being joined: an image's megabytes are written from the buffer they
 * already are in, and Content-Length is set so the answer is not chunked.
 */
export function sendJsonBody(
  reply: FastifyReply,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string | Buffer | readonly Buffer[],
): FastifyReply {
  void reply.headers(headers).code(status).type('application/json; charset=utf-8');
  if (typeof body === 'string' || Buffer.isBuffer(body)) return reply.send(body);
  if (body.length === 1) return reply.send(body[0]);
  const lengthBytes = body.reduce((sum, part) => sum + part.length, 0);
  return reply.header('content-length', String(lengthBytes)).send(Readable.from(body, { objectMode: false }));
}
