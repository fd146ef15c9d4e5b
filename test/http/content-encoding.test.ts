import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { GatewayError } from '../../src/errors.ts';
import { downloadImage } from '../../src/http/download.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode } from '../support/images.ts';

/** Upstream answers with a Content-Encoding are decoded (undici's `request` does not). */
describe('compressed upstream answers', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      {
        id: 'up',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1': 'gpt-image-1' },
        local: true,
        timeoutMs: 5000,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  for (const encoding of ['gzip', 'br', 'deflate'] as const) {
    it(`a ${encoding} JSON answer is decoded and served, in one attempt`, async () => {
      upstream.queue({ kind: 'compress', encoding });
      const { data, response } = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', quality: 'low' }).withResponse();
      assert.equal(response.headers.get('x-imagegate-attempts'), '1');
      assert.equal((await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'))).width, 1024);
      assert.equal(data.usage?.output_tokens, 100);
    });
  }
});

describe('downloadImage with a Content-Encoding', () => {
  let server: Server;
  let base = '';
  let png: Buffer;
  const agent = new Agent();
  before(async () => {
    png = await fakePng(32, 32);
    server = createServer((req, res) => {
      if (req.url === '/gzip') res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(png));
      else if (req.url === '/br') res.writeHead(200, { 'content-encoding': 'br' }).end(brotliCompressSync(png));
      else if (req.url === '/bomb') res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(8 * 1024 * 1024)));
      else if (req.url === '/corrupt') res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from('not gzip at all'));
      else if (req.url === '/weird') res.writeHead(200, { 'content-encoding': 'compress' }).end(png);
      else res.writeHead(200).end(png);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const get = (path: string, maxBytes = 1024 * 1024) =>
    downloadImage(`${base}${path}`, { dispatcher: agent, allowPrivate: true, maxBytes, timeoutMs: 5000, signal: new AbortController().signal });

  it('decodes gzip and br to the image bytes', async () => {
    assert.deepEqual(await get('/gzip'), png);
    assert.deepEqual(await get('/br'), png);
    assert.deepEqual(await get('/plain'), png);
  });

  it('counts the size cap on decoded bytes, so a small gzip cannot expand past it', async () => {
    await assert.rejects(get('/bomb', 1024 * 1024), (err: unknown) => err instanceof GatewayError && /larger than/.test(err.message));
  });

  it('refuses a corrupt body and an unknown coding as upstream errors', async () => {
    await assert.rejects(get('/corrupt'), (err: unknown) => err instanceof GatewayError && err.code === 'upstream_error');
    await assert.rejects(get('/weird'), (err: unknown) => err instanceof GatewayError && /unsupported Content-Encoding 'compress'/.test(err.message));
  });
});
