import { randomBytes } from 'node:crypto';

/** `req_` and 24 hex digits: the id every answer carries in `x-request-id` and the log. */
export function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}
