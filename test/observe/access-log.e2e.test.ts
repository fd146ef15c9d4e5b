import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

const PROMPT = 'a heron standing in a misty pond, prompt 4417';

/** A gateway whose log lines are kept, parsed. */
async function loggingGateway(
  level: 'info' | 'debug',
  env: Record<string, string> = {},
): Promise<{ gateway: TestGateway; lines: () => Array<Record<string, unknown>>; raw: () => string }> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const gateway = await startGateway({ IMAGEGATE_LOG_LEVEL: level, ...env }, 'embedded', { logDestination: sink });
  const lines = (): Array<Record<string, unknown>> =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line): Record<string, unknown> => JSON.parse(line));
  return { gateway, lines, raw: () => text };
}

/** The access log lines of one request id, waiting briefly for the response's close to be logged. */
async function accessLines(lines: () => Array<Record<string, unknown>>, requestId: string): Promise<Array<Record<string, unknown>>> {
  for (let tries = 0; tries < 100; tries += 1) {
    const found = lines().filter((line) => line['reqId'] === requestId && line['msg'] === 'request');
    if (found.length > 0) return found;
    await sleep(20);
  }
  return [];
}

describe('the access log', () => {
  let logged: Awaited<ReturnType<typeof loggingGateway>>;
  let keyId: string;
  before(async () => {
    logged = await loggingGateway('info');
    keyId = (await logged.gateway.deps.keys.list('user')).find((row) => row.name === 'test')?.id ?? '';
  });
  after(async () => {
    await logged.gateway.close();
  });

  it('writes one line per request at info with what an operator needs, and never the key or the prompt', async () => {
    const { gateway } = logged;
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: PROMPT, n: 2, quality: 'low', response_format: 'b64_json' }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const requestId = response.headers.get('x-request-id') ?? '';
    const lines = logged.lines().filter((line) => line['reqId'] === requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const [line] = await accessLines(logged.lines, requestId);
    assert.ok(line !== undefined);
    assert.equal(line['level'], 30);
    assert.equal(typeof line['durationMs'], 'number');
    const { time: _time, pid: _pid, hostname: _hostname, durationMs: _duration, ...rest } = line;
    assert.deepEqual(rest, {
      level: 30,
      reqId: requestId,
      msg: 'request',
      method: 'POST',
      route: '/v1/images/generations',
      path: '/v1/images/generations',
      status: 200,
      keyId,
      model: 'gpt-image-1',
      provider: 'local',
      channel: 'local',
      n: 2,
      images: 2,
      attempts: 1,
      costUsd: Number(response.headers.get('x-imagegate-cost-usd')),
    });
    const all = logged.raw();
    assert.ok(!all.includes(gateway.key), 'the key is in the log');
    assert.ok(!all.includes('heron'), 'the prompt is in the log at info');
    assert.ok(!/incoming request|request completed/.test(all), "Fastify's own request lines are replaced by the access line");
  });

  it('logs refusals and unknown routes with their status and code', async () => {
    const { gateway } = logged;
    const refused = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-3', prompt: PROMPT, size: '999x999' }),
    });
    assert.equal(refused.status, 400);
    const [refusal] = await accessLines(logged.lines, refused.headers.get('x-request-id') ?? '');
    assert.deepEqual([refusal?.['status'], refusal?.['code'], refusal?.['keyId']], [400, 'invalid_value', keyId]);

    const missing = await fetch(`${gateway.baseUrl}/nowhere?sig=abc`);
    const [unknown] = await accessLines(logged.lines, missing.headers.get('x-request-id') ?? '');
    assert.deepEqual([unknown?.['route'], unknown?.['path'], unknown?.['status']], ['unmatched', '/nowhere', 404]);
    assert.ok(!logged.raw().includes('sig=abc'));

    const unauthorized = await fetch(`${gateway.baseUrl}/v1/models`, { headers: { authorization: 'Bearer sk-ig-wrong-key-xyz' } });
    const [denied] = await accessLines(logged.lines, unauthorized.headers.get('x-request-id') ?? '');
    assert.deepEqual([denied?.['status'], denied?.['code'], denied?.['keyId']], [401, 'invalid_api_key', undefined]);
    assert.ok(!logged.raw().includes('sk-ig-wrong-key-xyz'));
  });
});

describe('the access log at debug', () => {
  it('carries the prompt', async () => {
    const logged = await loggingGateway('debug');
    try {
      const { gateway } = logged;
      const result = await gateway.client().images.generate({ model: 'dall-e-3', prompt: PROMPT }).withResponse();
      const [line] = await accessLines(logged.lines, result.response.headers.get('x-request-id') ?? '');
      assert.equal(line?.['prompt'], PROMPT);
    } finally {
      await logged.gateway.close();
    }
  });
});

describe('a client that leaves before its answer', () => {
  let upstream: FakeServer;
  let logged: Awaited<ReturnType<typeof loggingGateway>>;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      { id: 'slow', provider: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-upstream-test', models: { 'gpt-image-1': 'gpt-image-1' }, local: true },
    ];
    logged = await loggingGateway('info', { IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_METRICS_PUBLIC: 'true' });
  });
  after(async () => {
    await logged.gateway.close();
    await upstream.close();
  });

  it('is logged with status 499 and leaves the in-flight gauge', async () => {
    const { gateway } = logged;
    upstream.queue({ kind: 'delay', ms: 5000 });
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a slow lighthouse', quality: 'low' }),
      signal: controller.signal,
    });
    while (upstream.count('/images/generations') === 0) await sleep(10);
    controller.abort();
    await assert.rejects(pending);
    let line: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 100 && line === undefined; tries += 1) {
      line = logged.lines().find((entry) => entry['msg'] === 'request' && entry['route'] === '/v1/images/generations');
      if (line === undefined) await sleep(20);
    }
    assert.equal(line?.['status'], 499);
    const metrics = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
    assert.match(metrics, /^imagegate_inflight_requests 1$/m);
    assert.match(metrics, /^imagegate_requests_total\{method="POST",route="\/v1\/images\/generations",status="499"\} 1$/m);
  });
});
