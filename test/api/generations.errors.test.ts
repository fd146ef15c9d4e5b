import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';

interface ErrorCase {
  readonly name: string;
  readonly body: unknown;
  readonly status: number;
  readonly code: string;
  readonly param: string | null;
  /** A piece of the message a person needs to act on it. */
  readonly says?: RegExp;
}

const CASES: readonly ErrorCase[] = [
  { name: 'missing prompt', body: { model: 'dall-e-3' }, status: 400, code: 'missing_required_parameter', param: 'prompt' },
  { name: 'prompt of the wrong type', body: { prompt: 42 }, status: 400, code: 'invalid_type', param: 'prompt', says: /expected string/ },
  { name: 'empty prompt', body: { prompt: '   ' }, status: 400, code: 'invalid_value', param: 'prompt' },
  {
    name: 'prompt over dall-e-2 limit',
    body: { model: 'dall-e-2', prompt: 'a'.repeat(1001) },
    status: 400,
    code: 'invalid_value',
    param: 'prompt',
    says: /at most 1000/,
  },
  {
    name: 'prompt over dall-e-3 limit',
    body: { model: 'dall-e-3', prompt: 'a'.repeat(4001) },
    status: 400,
    code: 'invalid_value',
    param: 'prompt',
    says: /4000/,
  },
  {
    name: 'prompt over gpt-image limit',
    body: { model: 'gpt-image-1', prompt: 'a'.repeat(32001) },
    status: 400,
    code: 'invalid_value',
    param: 'prompt',
    says: /32000/,
  },
  { name: 'unknown model', body: { model: 'dall-e-9', prompt: 'x' }, status: 404, code: 'model_not_found', param: 'model', says: /dall-e-9/ },
  { name: 'model of the wrong type', body: { model: 3, prompt: 'x' }, status: 400, code: 'invalid_type', param: 'model' },
  { name: 'unknown field', body: { prompt: 'x', colour: 'red' }, status: 400, code: 'unknown_parameter', param: 'colour' },
  { name: 'n=2 on dall-e-3', body: { model: 'dall-e-3', prompt: 'x', n: 2 }, status: 400, code: 'invalid_value', param: 'n', says: /only n=1/ },
  { name: 'n=2 on qwen-image', body: { model: 'qwen-image', prompt: 'x', n: 2 }, status: 400, code: 'invalid_value', param: 'n' },
  { name: 'n=11', body: { model: 'gpt-image-1', prompt: 'x', n: 11 }, status: 400, code: 'invalid_value', param: 'n', says: /1 to 10/ },
  { name: 'n=0', body: { model: 'dall-e-2', prompt: 'x', n: 0 }, status: 400, code: 'invalid_value', param: 'n' },
  { name: 'n fractional', body: { model: 'dall-e-2', prompt: 'x', n: 1.5 }, status: 400, code: 'invalid_value', param: 'n', says: /whole number/ },
  { name: 'n as a string', body: { model: 'dall-e-2', prompt: 'x', n: '2' }, status: 400, code: 'invalid_type', param: 'n' },
  {
    name: 'dall-e-3 size from gpt-image',
    body: { model: 'dall-e-3', prompt: 'x', size: '1536x1024' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /Invalid value '1536x1024' for 'size': dall-e-3 supports 1024x1024, 1792x1024, 1024x1792/,
  },
  { name: 'dall-e-2 size auto', body: { model: 'dall-e-2', prompt: 'x', size: 'auto' }, status: 400, code: 'invalid_value', param: 'size' },
  { name: 'gpt-image-1 free size', body: { model: 'gpt-image-1', prompt: 'x', size: '1280x720' }, status: 400, code: 'invalid_value', param: 'size' },
  {
    name: 'gpt-image-2 size not multiple of 16',
    body: { model: 'gpt-image-2', prompt: 'x', size: '1000x1000' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /multiples of 16/,
  },
  {
    name: 'gpt-image-2 aspect beyond 3:1',
    body: { model: 'gpt-image-2', prompt: 'x', size: '3200x1024' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /aspect/,
  },
  {
    name: 'gpt-image-2 edge beyond 3840',
    body: { model: 'gpt-image-2', prompt: 'x', size: '4096x2048' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /3840/,
  },
  {
    name: 'gpt-image-2 too few pixels',
    body: { model: 'gpt-image-2', prompt: 'x', size: '512x512' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /pixels/,
  },
  { name: 'gpt-image-2 garbled size', body: { model: 'gpt-image-2', prompt: 'x', size: 'big' }, status: 400, code: 'invalid_value', param: 'size' },
  {
    name: 'qwen-image unknown size',
    body: { model: 'qwen-image', prompt: 'x', size: '512x512' },
    status: 400,
    code: 'invalid_value',
    param: 'size',
    says: /1328x1328/,
  },
  {
    name: 'hd on gpt-image',
    body: { model: 'gpt-image-1', prompt: 'x', quality: 'hd' },
    status: 400,
    code: 'invalid_value',
    param: 'quality',
    says: /low, medium, high, auto/,
  },
  { name: 'low on dall-e-3', body: { model: 'dall-e-3', prompt: 'x', quality: 'low' }, status: 400, code: 'invalid_value', param: 'quality' },
  { name: 'hd on dall-e-2', body: { model: 'dall-e-2', prompt: 'x', quality: 'hd' }, status: 400, code: 'invalid_value', param: 'quality' },
  {
    name: 'style on dall-e-2',
    body: { model: 'dall-e-2', prompt: 'x', style: 'vivid' },
    status: 400,
    code: 'unsupported_parameter',
    param: 'style',
    says: /dall-e-3/,
  },
  { name: 'bad style on dall-e-3', body: { model: 'dall-e-3', prompt: 'x', style: 'cartoon' }, status: 400, code: 'invalid_value', param: 'style' },
  {
    name: 'bad response_format',
    body: { model: 'dall-e-2', prompt: 'x', response_format: 'png' },
    status: 400,
    code: 'invalid_value',
    param: 'response_format',
  },
  {
    name: 'output_format on dall-e-3',
    body: { model: 'dall-e-3', prompt: 'x', output_format: 'png' },
    status: 400,
    code: 'unsupported_parameter',
    param: 'output_format',
  },
  { name: 'output_format gif', body: { model: 'gpt-image-1', prompt: 'x', output_format: 'gif' }, status: 400, code: 'invalid_value', param: 'output_format' },
  {
    name: 'compression over 100',
    body: { model: 'gpt-image-1', prompt: 'x', output_format: 'jpeg', output_compression: 101 },
    status: 400,
    code: 'invalid_value',
    param: 'output_compression',
  },
  {
    name: 'compression below 0',
    body: { model: 'gpt-image-1', prompt: 'x', output_format: 'webp', output_compression: -1 },
    status: 400,
    code: 'invalid_value',
    param: 'output_compression',
  },
  {
    name: 'compression with png',
    body: { model: 'gpt-image-1', prompt: 'x', output_compression: 50 },
    status: 400,
    code: 'invalid_value',
    param: 'output_compression',
    says: /jpeg and webp/,
  },
  {
    name: 'compression on dall-e-2',
    body: { model: 'dall-e-2', prompt: 'x', output_compression: 50 },
    status: 400,
    code: 'unsupported_parameter',
    param: 'output_compression',
  },
  {
    name: 'transparent jpeg',
    body: { model: 'gpt-image-1', prompt: 'x', background: 'transparent', output_format: 'jpeg' },
    status: 400,
    code: 'invalid_value',
    param: 'background',
    says: /png or webp/,
  },
  {
    name: 'background on dall-e-3',
    body: { model: 'dall-e-3', prompt: 'x', background: 'opaque' },
    status: 400,
    code: 'unsupported_parameter',
    param: 'background',
  },
  { name: 'bad background', body: { model: 'gpt-image-1', prompt: 'x', background: 'clear' }, status: 400, code: 'invalid_value', param: 'background' },
  {
    name: 'moderation on dall-e-3',
    body: { model: 'dall-e-3', prompt: 'x', moderation: 'low' },
    status: 400,
    code: 'unsupported_parameter',
    param: 'moderation',
  },
  { name: 'bad moderation', body: { model: 'gpt-image-1', prompt: 'x', moderation: 'none' }, status: 400, code: 'invalid_value', param: 'moderation' },
  { name: 'stream on dall-e-3', body: { model: 'dall-e-3', prompt: 'x', stream: true }, status: 400, code: 'unsupported_parameter', param: 'stream' },
  { name: 'stream of the wrong type', body: { model: 'gpt-image-1', prompt: 'x', stream: 'yes' }, status: 400, code: 'invalid_type', param: 'stream' },
  {
    name: 'partial_images without stream',
    body: { model: 'gpt-image-1', prompt: 'x', partial_images: 2 },
    status: 400,
    code: 'unsupported_parameter',
    param: 'partial_images',
  },
  { name: 'user too long', body: { model: 'gpt-image-1', prompt: 'x', user: 'u'.repeat(300) }, status: 400, code: 'invalid_value', param: 'user' },
  { name: 'negative seed', body: { model: 'gpt-image-1', prompt: 'x', seed: -4 }, status: 400, code: 'invalid_value', param: 'seed' },
  { name: 'body is an array', body: [{ prompt: 'x' }], status: 400, code: 'invalid_type', param: null },
  { name: 'body is a string', body: 'draw a cat', status: 400, code: 'invalid_type', param: null },
];

describe('POST /v1/images/generations refuses bad input with the OpenAI error envelope', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  async function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json', ...headers },
      body,
    });
  }

  async function expectError(response: Response, status: number, code: string, param: string | null): Promise<string> {
    const body = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    assert.equal(response.status, status, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(body.error.code, code);
    assert.equal(body.error.param, param);
    assert.equal(typeof body.error.type, 'string');
    assert.ok(body.error.message.length > 10);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    return body.error.message;
  }

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const message = await expectError(await post(JSON.stringify(testCase.body)), testCase.status, testCase.code, testCase.param);
      if (testCase.says !== undefined) assert.match(message, testCase.says);
    });
  }

  it('null fields count as not given, like the OpenAI spec says', async () => {
    const response = await post(JSON.stringify({ model: 'dall-e-2', prompt: 'x', size: '256x256', n: null, style: null, quality: null }));
    assert.equal(response.status, 200);
  });

  it('invalid JSON is a 400, never a 500', async () => {
    await expectError(await post('{"prompt": "a cat",'), 400, 'invalid_json', null);
    await expectError(await post('{"prompt": "a cat"}}'), 400, 'invalid_json', null);
  });

  it('an empty JSON body is a 400', async () => {
    await expectError(await post(''), 400, 'invalid_json', null);
  });

  it('prototype pollution attempts are refused', async () => {
    const response = await post('{"prompt":"x","__proto__":{"admin":true}}');
    assert.equal(response.status, 400);
  });

  it('a body over the limit is a 413', async () => {
    const huge = JSON.stringify({ prompt: 'a'.repeat(2 * 1024 * 1024) });
    await expectError(await post(huge), 413, 'payload_too_large', null);
  });

  it('a non-JSON body is a 415', async () => {
    await expectError(await post('prompt=a+cat', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type', null);
    await expectError(await post('a cat', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', null);
  });

  it('an unknown route is a 404 in the same envelope', async () => {
    const response = await fetch(`${gateway.baseUrl}/v1/nothing/here`, { headers: { authorization: `Bearer ${gateway.key}` } });
    await expectError(response, 404, 'not_found', null);
  });

  it('the openai client surfaces the error fields', async () => {
    await assert.rejects(gateway.client().images.generate({ model: 'dall-e-3', prompt: 'x', size: '256x256' }), (err: unknown) => {
      const e = err as { status: number; code: string; param: string; type: string; message: string };
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_value');
      assert.equal(e.param, 'size');
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /dall-e-3 supports/);
      return true;
    });
  });
});
