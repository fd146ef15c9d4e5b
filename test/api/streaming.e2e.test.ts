import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toFile } from 'openai';
import { fakePng } from '../fakes/fake-images.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode } from '../support/images.ts';

interface StreamEvent {
  type: string;
  b64_json: string;
  partial_image_index?: number;
  size: string;
  output_format: string;
  usage?: { output_tokens: number };
}

describe('streaming (stream: true) with the openai client', () => {
  let gateway: TestGateway;
  let upstream: FakeServer;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      {
        id: 'up',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1.5': 'gpt-image-1.5' },
        local: true,
        options: { streamIdleTimeoutMs: '300' },
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  async function collect(params: Record<string, unknown>): Promise<StreamEvent[]> {
    const stream = await gateway.client().images.generate({ prompt: 'a paper boat on calm water at sunrise', stream: true, ...params } as never);
    const events: StreamEvent[] = [];
    for await (const event of stream as unknown as AsyncIterable<StreamEvent>) events.push(event);
    return events;
  }

  it('relays an upstream stream event by event: partial images, then the completed image with usage', async () => {
    upstream.reset();
    const events = await collect({ model: 'gpt-image-1.5', partial_images: 2, output_format: 'webp', quality: 'low' });
    assert.deepEqual(
      events.map((e) => [e.type, e.partial_image_index]),
      [
        ['image_generation.partial_image', 0],
        ['image_generation.partial_image', 1],
        ['image_generation.completed', undefined],
      ],
    );
    const final = events[2];
    assert.ok(final !== undefined);
    assert.equal((await decode(Buffer.from(final.b64_json, 'base64'))).format, 'webp');
    assert.ok((final.usage?.output_tokens ?? 0) > 0);
    assert.equal((upstream.received[0]?.json as { stream: boolean; partial_images: number }).partial_images, 2);
  });

  it('an upstream that stalls mid-stream ends the stream with an error event the client throws', async () => {
    upstream.reset();
    upstream.queue({ kind: 'stall_stream' });
    await assert.rejects(collect({ model: 'gpt-image-1.5', partial_images: 2 }), (err: unknown) => {
      assert.match(String((err as Error).message), /quiet|stream/);
      return true;
    });
    assert.equal(upstream.count('/images/generations'), 1, 'no retry after a partial image went out');
  });
});

describe('streaming from the local renderer', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  it('sends real progressive partials, coarse to fine, then the full image', async () => {
    const stream = await gateway.client().images.generate({
      model: 'gpt-image-1',
      prompt: 'mountains above a lake at sunset',
      stream: true,
      partial_images: 3,
      size: '1024x1024',
      quality: 'medium',
    });
    const events: StreamEvent[] = [];
    for await (const event of stream as unknown as AsyncIterable<StreamEvent>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed'],
    );
    const sizes = events.map((e) => Buffer.from(e.b64_json, 'base64').length);
    // Coarser previews compress better: each partial holds more detail than the one before.
    assert.ok((sizes[0] ?? 0) < (sizes[1] ?? 0) && (sizes[1] ?? 0) < (sizes[2] ?? 0) && (sizes[2] ?? 0) < (sizes[3] ?? 0), sizes.join(' < '));
    for (const event of events) {
      const image = await decode(Buffer.from(event.b64_json, 'base64'));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
      assert.equal(event.size, '1024x1024');
    }
    assert.ok((events[3]?.usage?.output_tokens ?? 0) > 0);
  });

  it('streams edits as image_edit events', async () => {
    const source = await fakePng(512, 512);
    const stream = await gateway.client().images.edit({
      model: 'gpt-image-1',
      image: await toFile(source, 'source.png', { type: 'image/png' }),
      prompt: 'add a sunset sky',
      size: '1024x1024',
      stream: true,
      partial_images: 2,
    });
    const events: StreamEvent[] = [];
    for await (const event of stream as unknown as AsyncIterable<StreamEvent>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed'],
    );
    const final = await decode(Buffer.from(events[2]?.b64_json ?? '', 'base64'));
    assert.deepEqual([final.format, final.width, final.height], ['png', 1024, 1024]);
  });

  it('a client that leaves mid-stream is charged only for images it received', async () => {
    const { row, plaintext } = await gateway.deps.keys.create({});
    const controller = new AbortController();
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${plaintext}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-2', prompt: 'a huge city', size: '3840x2160', quality: 'high', n: 4, stream: true, partial_images: 1 }),
      signal: controller.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 100; i += 1) {
      const entries = await gateway.deps.ledger.entries(row.id);
      if (entries.some((e) => e.kind === 'release')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const entries = await gateway.deps.ledger.entries(row.id);
    assert.equal(entries.filter((e) => e.kind === 'charge').length, 0, 'nothing delivered, nothing charged');
    assert.equal((await gateway.deps.keys.get(row.id))?.committed_micro_usd, 0);
  });
});
