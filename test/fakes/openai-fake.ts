import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendCompressed, sendJson, sendTruncated } from './fake-server.ts';
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
      return sendJson(res, 401, {
        error: { message: 'Incorrect API key provided: sk-****.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      });
    }
    const path = received.path;
    if (/\/images\/(edits|variations)$/.test(path)) return answerEditOrVariation(received, fault, res, options.azure === true);
    const isGeneration =
      options.azure === true
        ? /^\/openai\/(deployments\/[^/]+\/images\/generations|v1\/images\/generations)$/.test(path)
        : path.endsWith('/images/generations');
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
  const model = azure && received.path.includes('/deployments/') ? (received.path.split('/')[3] ?? '') : textOr(body['model'], '');
  const gpt = model.startsWith('gpt-image');
  if (gpt && 'response_format' in body) {
    return sendJson(res, 400, {
      error: { message: "Unknown parameter: 'response_format'.", type: 'invalid_request_error', param: 'response_format', code: 'unknown_parameter' },
    });
  }
  if (!gpt) {
    const wrong = GPT_ONLY.find((field) => field in body);
    if (wrong !== undefined)
      return sendJson(res, 400, {
        error: { message: `Unknown parameter: '${wrong}'.`, type: 'invalid_request_error', param: wrong, code: 'unknown_parameter' },
      });
  }
  if (fault.kind === 'status')
    return sendJson(res, fault.status, fault.body ?? { error: { message: 'boom', type: 'server_error', param: null, code: null } }, fault.headers);
  if (fault.kind === 'echo_auth')
    return sendJson(res, fault.status, { error: { message: echoAuth(received), type: 'invalid_request_error', param: null, code: 'invalid_request' } });
  if (fault.kind === 'echo_auth_stream' && body['stream'] === true) return sendEchoingStream(res, received);
  if (fault.kind === 'rate_limit') {
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
    return sendJson(
      res,
      429,
      { error: { message: 'Rate limit reached for images per minute.', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
      headers,
    );
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

  const [width, height] = textOr(body['size'], '1024x1024').split('x').map(Number);
  // Some compatible upstreams ignore output_format and always send png.
  const format = (gpt && fault.kind !== 'ignore_format' ? textOr(body['output_format'], 'png') : 'png') as 'png' | 'jpeg' | 'webp';
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
      item['url'] = `http://127.0.0.1:${res.socket?.localPort ?? 0}${path}`;
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
      usage:
        fault.kind === 'usage'
          ? fault.usage
          : { input_tokens: 11, input_tokens_details: { text_tokens: 11, image_tokens: 0 }, output_tokens: 100 * n, total_tokens: 11 + 100 * n },
    });
  }
  if (azure) answer['prompt_filter_results'] = [{ prompt_index: 0, content_filter_results: {} }];
  if (body['stream'] === true)
    return sendStream(res, data, answer, Number(body['partial_images'] ?? 0), fault, { width: width ?? 1024, height: height ?? 1024, format });
  if (fault.kind === 'truncate') return sendTruncated(res, answer);
  if (fault.kind === 'compress') return sendCompressed(res, 200, answer, fault.encoding);
  sendJson(res, 200, answer, { 'x-request-id': `upstream-${String(received.headers['x-client-request-id'] ?? 'none')}` });
}

/** What some upstreams do with a request they refuse: quote its credentials back. */
function echoAuth(received: Received): string {
  return `Invalid request for this endpoint. Received Authorization: ${received.headers['authorization'] ?? '(none)'}; api-key: ${String(received.headers['api-key'] ?? '(none)')}.`;
}

/** A stream that fails after its first partial image with an error event quoting the credentials. */
async function sendEchoingStream(res: ServerResponse, received: Received): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const preview = await fakeImage(64, 64, 'png', 0);
  res.write(
    `event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: preview.toString('base64'), partial_image_index: 0 })}\n\n`,
  );
  res.write(
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_request', message: echoAuth(received), param: null } })}\n\n`,
  );
  res.end();
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
  const common = {
    created_at: Math.floor(Date.now() / 1000),
    size: `${shape.width}x${shape.height}`,
    quality: 'low',
    background: 'opaque',
    output_format: shape.format,
  };
  for (const item of data) {
    for (let index = 0; index < partials; index += 1) {
      const preview = await fakeImage(64, 64, shape.format, index);
      res.write(
        `event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: preview.toString('base64'), partial_image_index: index, ...common })}\n\n`,
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fault.kind === 'stall_stream') return; // never another byte
    }
    res.write(
      `event: image_generation.completed\ndata: ${JSON.stringify({ type: 'image_generation.completed', b64_json: item['b64_json'], usage: answer['usage'], ...common })}\n\n`,
    );
  }
  res.end();
}

/** One part of a multipart/form-data body, as a fake upstream reads it. */
export interface FakePart {
  readonly name: string;
  readonly filename: string | null;
  readonly contentType: string | null;
  readonly data: Buffer;
}

/**
 * A small RFC 7578 reader, enough for what clients and the gateway send: parts split on the
 * boundary, Content-Disposition name/filename and Content-Type read from each part's headers.
 */
export function parseMultipart(body: Buffer, contentType: string | undefined): FakePart[] | null {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!(contentType ?? '').startsWith('multipart/form-data') || boundary === null) return null;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2] ?? ''}`, 'latin1');
  const parts: FakePart[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length;
    if (body.subarray(headerStart, headerStart + 2).toString('latin1') === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart, 'latin1');
    if (headerEnd === -1) return null;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), delimiter]), headerEnd);
    if (next === -1) return null;
    const headers = body.subarray(headerStart + 2, headerEnd).toString('utf8');
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /(?:^|;)\s*name="([^"]*)"/.exec(disposition)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(disposition)?.[1] ?? null;
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? null;
    parts.push({ name, filename, contentType: type, data: body.subarray(headerEnd + 4, next) });
    start = next + 2;
  }
  return parts;
}

const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

/**
 * `/images/edits` and `/images/variations` as OpenAI checks them: multipart only, each image part
 * typed image/png|jpeg|webp (octet-stream is refused with OpenAI's message), `response_format`
 * refused on GPT image models, GPT-only fields refused on dall-e, a PNG mask.
 */
async function answerEditOrVariation(received: Received, fault: Fault, res: ServerResponse, azure: boolean): Promise<void> {
  const refuse = (message: string, param: string | null, code: string): void =>
    sendJson(res, 400, { error: { message, type: 'invalid_request_error', param, code } });
  const parts = parseMultipart(received.body, received.headers['content-type']);
  if (parts === null) return refuse('Expected a multipart/form-data body.', null, 'invalid_request');
  const fields = new Map<string, string>();
  for (const part of parts) if (part.filename === null) fields.set(part.name, part.data.toString('utf8'));
  const files = parts.filter((part) => part.filename !== null);
  const variation = received.path.endsWith('/variations');
  const model = azure && received.path.includes('/deployments/') ? (received.path.split('/')[3] ?? '') : (fields.get('model') ?? 'dall-e-2');
  const gpt = model.startsWith('gpt-image');
  if (gpt && fields.has('response_format')) return refuse("Unknown parameter: 'response_format'.", 'response_format', 'unknown_parameter');
  if (!gpt) {
    const wrong = [...GPT_ONLY, 'input_fidelity', 'quality'].find((field) => fields.has(field));
    if (wrong !== undefined) return refuse(`Unknown parameter: '${wrong}'.`, wrong, 'unknown_parameter');
  }
  const images = files.filter((part) => part.name === 'image' || part.name === 'image[]');
  if (images.length === 0) return refuse("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
  for (const [index, image] of images.entries()) {
    if (!ACCEPTED_TYPES.includes(image.contentType ?? '') || image.filename === '') {
      return refuse(
        `Invalid file 'image[${index}]': unsupported mimetype ('${image.contentType ?? 'application/octet-stream'}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`,
        `image[${index}]`,
        'unsupported_file_mimetype',
      );
    }
  }
  const mask = files.find((part) => part.name === 'mask');
  if (mask !== undefined && mask.contentType !== 'image/png') return refuse("Invalid file 'mask': it must be a PNG.", 'mask', 'invalid_value');
  if (!variation && (fields.get('prompt') ?? '') === '') return refuse("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (fault.kind === 'status')
    return sendJson(res, fault.status, fault.body ?? { error: { message: 'boom', type: 'server_error', param: null, code: null } }, fault.headers);
  if (fault.kind === 'moderation') {
    return sendJson(res, 400, {
      error: { message: 'Your request was rejected by the safety system.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' },
    });
  }
  const [width = 1024, height = 1024] = (fields.get('size') ?? '1024x1024').split('x').map(Number);
  const format = (gpt ? (fields.get('output_format') ?? 'png') : 'png') as 'png' | 'jpeg' | 'webp';
  const n = Number(fields.get('n') ?? 1);
  const data: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i += 1) data.push({ b64_json: (await fakeImage(width, height, format, 40 + i)).toString('base64') });
  const answer: Record<string, unknown> = { created: Math.floor(Date.now() / 1000), data };
  if (gpt) {
    const imageTokens = 323 * images.length;
    Object.assign(answer, {
      background: fields.get('background') === 'transparent' ? 'transparent' : 'opaque',
      output_format: format,
      quality: fields.get('quality') ?? 'medium',
      size: `${width}x${height}`,
      usage: {
        input_tokens: 7 + imageTokens,
        input_tokens_details: { text_tokens: 7, image_tokens: imageTokens },
        output_tokens: 100 * n,
        total_tokens: 7 + imageTokens + 100 * n,
      },
    });
  }
  sendJson(res, 200, answer);
}

/** A request field as text, or the default when it is absent or not a string. */
function textOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
