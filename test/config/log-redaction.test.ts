import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';

describe('log redaction', () => {
  it('never writes credentials, signed-link queries or channel keys', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      { req: { id: 'req_1', method: 'GET', url: '/files/20261121/abc.png?expires=1&sig=deadbeef', headers: { authorization: 'Bearer sk-ig-secret' } } },
      'request',
    );
    logger.info({ headers: { authorization: 'Bearer sk-upstream', 'api-key': 'azure-secret' } }, 'upstream');
    logger.info({ channel: { apiKey: 'sk-channel' }, storage: { signingSecret: 'hmac-secret' } }, 'config');
    for (const secret of ['sk-ig-secret', 'deadbeef', 'sk-upstream', 'azure-secret', 'sk-channel', 'hmac-secret']) {
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    }
    assert.match(out, /\/files\/20261121\/abc\.png\?\[redacted\]/);
  });
});
