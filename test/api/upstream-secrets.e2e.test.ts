import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/**
 * An upstream that quotes the credentials it received back in its error text (as some do in a 4xx
 * message) must not hand the channel's key to the client or to the log: not in a 400 the client
 * sees, not in a 500 that is retried and logged, not in a stream's error event.
 */
describe('channel secrets echoed by an upstream', () => {
  const channelKey = `sk-proj-${randomBytes(18).toString('hex')}`;
  let upstream: FakeServer;
  let gateway: TestGateway;
  let log = '';
  before(async () => {
    upstream = await startOpenAIFake({ apiKey: channelKey });
    const channels = [
      {
        id: 'echoing',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: channelKey,
        models: { 'gpt-image-1': 'gpt-image-1' },
        local: true,
        timeoutMs: 3000,
      },
    ];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_LOG_LEVEL: 'debug' }, 'embedded', { logDestination: sink });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.reset();
    log = '';
  });

  /** Neither the key nor any bearer credential: only `Bearer [redacted]` may remain. */
  function assertClean(text: string, where: string): void {
    assert.ok(!text.includes(channelKey), `${where} has the channel key: ${text}`);
    assert.ok(!text.includes(channelKey.slice(8, 30)), `${where} has part of the channel key: ${text}`);
    assert.doesNotMatch(text, /Bearer\s+(?!\[redacted\])\S/i, `${where} has a bearer token`);
  }

  it('a 400 quoting our Authorization header reaches the client scrubbed, still a 400 with its message', async () => {
    upstream.queue({ kind: 'echo_auth', status: 400 });
    await assert.rejects(gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat' }), (err: unknown) => {
      const e = err as { status: number; code: string; message: string };
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_value');
      assert.match(e.message, /Received Authorization: Bearer \[redacted\]/);
      assertClean(e.message, 'the client message');
      return true;
    });
    assert.ok(upstream.received[0]?.headers['authorization']?.includes(channelKey), 'the fake did get the key');
    assertClean(log, 'the log');
  });

  it('a 500 quoting it, retried until the attempts run out, is a clean 502 and a clean log', async () => {
    upstream.queue(...Array.from({ length: 4 }, () => ({ kind: 'echo_auth' as const, status: 500 })));
    await assert.rejects(gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat' }), (err: unknown) => {
      const e = err as { status: number; message: string };
      assert.equal(e.status, 502);
      assertClean(e.message, 'the client message');
      return true;
    });
    assert.equal(upstream.count('/images/generations'), 4);
    assert.match(log, /upstream attempt failed/);
    assertClean(log, 'the log');
  });

  it("a stream's error event quoting it ends the stream with a clean error event", async () => {
    upstream.queue({ kind: 'echo_auth_stream' });
    const types: string[] = [];
    await assert.rejects(
      (async () => {
        const stream = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', stream: true, partial_images: 1 });
        for await (const event of stream) types.push(event.type);
      })(),
      (err: unknown) => {
        const message = String((err as Error).message);
        assert.match(message, /Received Authorization: Bearer \[redacted\]/);
        assertClean(message, 'the error event');
        return true;
      },
    );
    assert.deepEqual(types, ['image_generation.partial_image']);
    assert.match(log, /stream failed/);
    assertClean(log, 'the log');
  });
});
