import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

const GPT_ONLY = ['output_format', 'output_compression', 'background', 'moderation'];

/**
 * OpenAI's images API as a fake (also the OpenAI-compatible upstreams and, with `azure: true`,
 * Azure OpenAI's deployment paths). It checks what the adapter sent like the real API does:
 * `response_format` on a GPT image model is a 400 unknown_parameter, GPT-only fields on dall-e are
 * refused, and a request without the right credentials is a 401.
 */
export async function startOpenAIFake(options: { apiKey?: string; azure?: boolean } = {}): Promise<FakeServer> {
  const apiKey = options.apiKey ?? 'sk-upstream-test';
  const stored = new Map<string, Buffer>();
  const fake = new FakeServer(async (received, fault, res) => {
    if (received.method === 'GET' && received.path.startsWith('/images/')) return serveImage(stored, received, res);
    const authorized = options.azure === true ? received.headers['api-key'] === apiKey : received.headers['authorization'] === `Bearer ${apiKey}`;
    if (!authorized || fault.kind === 'auth') {
      return sendJson(res, 401, { error: { message: 'Incorrect API key provided: sk-****.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    const path = received.path;
    const isGeneration = options.azure === true ? /^\/openai\/(deployments\/[^/]+\/images\/generations|v1\/images\/generations)$/.test(path) : path.endsWith('/images/generations');
    if (!isGeneration) return sendJson(res, 404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error', param: null, code: null } });
    return answerGeneration(received, fault, res, options.azure === true, stored);
  });
  return fake.start();
}

function serveImage(stored: Map<string, Buffer>, received: Received, res: ServerResponse): void {
  const bytes = stored.get(received.path);
  if (bytes === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length }).end(bytes);
}

async function answerGeneration(received: Received, fault: Fault, res: ServerResponse, azure: boolean, stored: Map<string, Buffer>): Promise<void> {
  const body = (received.json ?? {}) as Record<string, unknown>;
  const model = azure && received.path.includes('/deployments/') ? (received.path.split('/')[3] ?? '') : String(body['model'] ?? '');
  const gpt = model.startsWith('gpt-image');
  if (gpt && 'response_format' in body) {
    return sendJson(res, 400, { error: { message: "Unknown parameter: 'response_format'.", type: 'invalid_request_error', param: 'response_format', code: 'unknown_parameter' } });
  }
  if (!gpt) {
    const wrong = GPT_ONLY.find((field) => field in body);
    if (wrong !== undefined) return sendJson(res, 400, { error: { message: `Unknown parameter: '${wrong}'.`, type: 'invalid_request_error', param: wrong, code: 'unknown_parameter' } });
  }
  if (fault.kind === 'status') return sendJson(res, fault.status, fault.body ?? { error: { message: 'boom', type: 'server_error', param: null, code: null } }, fault.headers);
  if (fault.kind === 'rate_limit') {
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
    return sendJson(res, 429, { error: { message: 'Rate limit reached for images per minute.', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, headers);
  }
  if (fault.kind === 'moderation') {
    if (azure) {
      return sendJson(res, 400, {
        error: {
          code: 'content_policy_violation',
          type: 'invalid_request_error',
          message: 'Your request was rejected as a result of our safety system.',
          inner_error: { code: 'ResponsibleAIPolicyViolation', content_filter_results: { violence: { filtered: true, severity: 'high' } } },
        },
      });
    }
    return sendJson(res, 400, {
      error: { message: 'Your request was rejected by the safety system.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' },
    });
  }
  if (fault.kind === 'invalid_json') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"created": 1, "data": [ {"b64_json": ');
    return;
  }

  const [width, height] = String(body['size'] ?? '1024x1024').split('x').map(Number);
  // Some compatible upstreams ignore output_format and always send png.
  const format = (gpt && fault.kind !== 'ignore_format' ? String(body['output_format'] ?? 'png') : 'png') as 'png' | 'jpeg' | 'webp';
  const n = Number(body['n'] ?? 1);
  const data: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i += 1) {
    const bytes = await fakeImage(Math.min(width ?? 1024, 4096), Math.min(height ?? 1024, 4096), format, i);
    const item: Record<string, unknown> = {};
    if (fault.kind === 'bad_base64') item['b64_json'] = '!!!not base64!!!';
    else if (fault.kind === 'url_answer') {
      // Some OpenAI-compatible upstreams answer with links whatever was asked.
      const path = `/images/${Date.now()}-${i}.${format}`;
      stored.set(path, bytes);
      item['url'] = `http://127.0.0.1:${(res.socket?.localPort ?? 0)}${path}`;
    } else item['b64_json'] = bytes.toString('base64');
    if (model === 'dall-e-3') item['revised_prompt'] = `An upstream rendering of: ${String(body['prompt'])}`;
    if (azure) item['content_filter_results'] = { hate: { filtered: false, severity: 'safe' } };
    data.push(item);
  }
  const answer: Record<string, unknown> = { created: Math.floor(Date.now() / 1000), data };
  if (gpt) {
    Object.assign(answer, {
      background: body['background'] === 'transparent' ? 'transparent' : 'opaque',
      output_format: format,
      quality: body['quality'] ?? 'medium',
      size: body['size'],
      usage: { input_tokens: 11, input_tokens_details: { text_tokens: 11, image_tokens: 0 }, output_tokens: 100 * n, total_tokens: 11 + 100 * n },
    });
  }
  if (azure) answer['prompt_filter_results'] = [{ prompt_index: 0, content_filter_results: {} }];
  if (body['stream'] === true) return sendStream(res, data, answer, Number(body['partial_images'] ?? 0), fault, { width: width ?? 1024, height: height ?? 1024, format });
  if (fault.kind === 'truncate') return sendTruncated(res, answer);
  sendJson(res, 200, answer, { 'x-request-id': `upstream-${received.headers['x-client-request-id'] ?? 'none'}` });
}

/** OpenAI's image stream: partial_image events, then one completed event per image. */
async function sendStream(
  res: ServerResponse,
  data: Array<Record<string, unknown>>,
  answer: Record<string, unknown>,
  partials: number,
  fault: Fault,
  shape: { width: number; height: number; format: 'png' | 'jpeg' | 'webp' },
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const common = { created_at: Math.floor(Date.now() / 1000), size: `${shape.width}x${shape.height}`, quality: 'low', background: 'opaque', output_format: shape.format };
  for (const item of data) {
    for (let index = 0; index < partials; index += 1) {
      const preview = await fakeImage(64, 64, shape.format, index);
      res.write(`event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: preview.toString('base64'), partial_image_index: index, ...common })}\n\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fault.kind === 'stall_stream') return; // never another byte
    }
    res.write(`event: image_generation.completed\ndata: ${JSON.stringify({ type: 'image_generation.completed', b64_json: item['b64_json'], usage: answer['usage'], ...common })}\n\n`);
  }
  res.end();
}
