import { createHmac, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { fakeImage } from './fake-images.ts';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';

/**
 * How one picture of the next set ends (queued with `queuePictures`, `ok` when none is):
 * - `ok`: drawn;
 * - `sensitive`: refused by output moderation; Ark goes on with the next picture of the set;
 * - `internal`: failed on a server error; Ark draws no further picture of the set.
 * (Image generation API reference, docs/82379/1541523, "data".)
 */
export type PictureOutcome = 'ok' | 'sensitive' | 'internal';

export interface ArkFakeOptions {
  readonly apiKey?: string;
  /** Lifetime of a result link (Ark's last 24 h; tests want it short). */
  readonly urlTtlMs?: number;
}

/** What each model takes for `size` ("方式 2" pixel ranges and "方式 1" tiers). */
const MODEL_RULES: Readonly<Record<string, { minPixels: number; maxPixels: number; tiers: readonly string[] }>> = {
  'doubao-seedream-4-0-250828': { minPixels: 921_600, maxPixels: 16_777_216, tiers: ['1K', '2K', '4K'] },
  'doubao-seedream-4-5-251128': { minPixels: 3_686_400, maxPixels: 16_777_216, tiers: ['2K', '4K'] },
  'doubao-seedream-5-0-260128': { minPixels: 3_686_400, maxPixels: 10_404_496, tiers: ['2K', '3K'] },
};
const TIER_EDGE: Readonly<Record<string, number>> = { '1K': 1024, '2K': 2048, '3K': 3072, '4K': 4096 };

/** The request fields the image generation API documents. */
const DOCUMENTED_FIELDS = new Set([
  'model',
  'prompt',
  'image',
  'size',
  'seed',
  'sequential_image_generation',
  'sequential_image_generation_options',
  'tools',
  'stream',
  'guidance_scale',
  'output_format',
  'response_format',
  'watermark',
  'optimize_prompt_options',
]);
/** Documented, but for other models than Seedream 4.x/5.0 (3.0's seed and guidance_scale). */
const SEEDREAM_3_ONLY = new Set(['seed', 'guidance_scale']);

const GENERATIONS_PATH = '/api/v3/images/generations';
const CONTENT_PATH = '/ark-content-generation/';
const REFERENCE = /^data:image\/(png|jpeg|webp|bmp|tiff|gif);base64,([A-Za-z0-9+/]+={0,2})$/;

interface StoredPicture {
  readonly bytes: Buffer;
  readonly expiresAtMs: number;
  readonly signature: string;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Volcengine Ark's image generation API as a fake on 127.0.0.1 (docs/82379/1541523):
 * `POST /api/v3/images/generations` with a Bearer key, checked like Ark checks it: the model (an
 * Ark model id, or an `ep-…` endpoint id bound to one with `bindEndpoint`), the size against the
 * model's pixel and ratio ranges, `max_images` 1–15, references as lower-case data URLs (at most
 * 14). It is stricter than Ark where that catches an adapter sending what Seedream 4.x/5.0 does not
 * take: undocumented fields and Seedream 3.0's `seed`/`guidance_scale` are refused.
 *
 * Sets behave as Ark's do: with `sequential_image_generation: "auto"` the model draws as many
 * pictures as the prompt names ("a set of 4 …", "3 images"), one when it names none, never more
 * than `max_images` or 15 less the references; a picture can fail inside the set
 * (`queuePictures`). Results are JPEG of the size asked, in `b64_json` or as TOS-style signed
 * links that answer 403 once expired. Each answer has `data[].size` and `usage.generated_images`.
 *
 * HTTP faults come from the FakeServer queue and hit the next request (generation or download):
 * `auth` (401 AuthenticationError), `status` (with `status: 200` and an `{error}` body for the
 * error-in-a-200 case), `rate_limit` (429 RateLimitExceeded.EndpointRPMExceeded with Retry-After),
 * `moderation` (400 InputTextSensitiveContentDetected), `truncate`, `invalid_json`, `bad_base64`,
 * `usage` (reports that `usage`), `stall`, `delay`.
 */
export class ArkFake {
  readonly server: FakeServer;
  urlTtlMs: number;
  readonly #apiKey: string;
  readonly #pictures: PictureOutcome[] = [];
  readonly #stored = new Map<string, StoredPicture>();
  readonly #endpoints = new Map<string, string>();
  readonly #secret = randomUUID();
  /** Pictures drawn so far: each one differs, as Ark's do (it seeds every picture at random). */
  #drawn = 0;

  constructor(options: ArkFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? 'sk-upstream-test';
    this.urlTtlMs = options.urlTtlMs ?? 60_000;
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  /** The API root a channel's `baseUrl` names. */
  get baseUrl(): string {
    return `${this.server.url}/api/v3`;
  }

  /** Generation requests received, in order, with their JSON bodies. */
  get generations(): Received[] {
    return this.server.received.filter((r) => r.path === GENERATIONS_PATH);
  }

  /** Sets how the next pictures end, in the order they are drawn. */
  queuePictures(...outcomes: PictureOutcome[]): this {
    this.#pictures.push(...outcomes);
    return this;
  }

  /** Makes `ep-…` an inference endpoint serving `model`, as one created in the Ark console. */
  bindEndpoint(endpointId: string, model: string): this {
    this.#endpoints.set(endpointId, model);
    return this;
  }

  reset(): void {
    this.server.reset();
    this.#pictures.length = 0;
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.method === 'GET' && received.path.startsWith(CONTENT_PATH)) return this.#serve(received, fault, res);
    const requestId = `0217${Date.now()}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const headers = { 'x-request-id': requestId };
    if (received.headers['authorization'] !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return sendJson(
        res,
        401,
        arkError('AuthenticationError', 'Unauthorized', `The API key or AK/SK in the request is missing or invalid. Request id: ${requestId}`),
        headers,
      );
    }
    if (fault.kind === 'status') {
      const body =
        fault.body ?? arkError('InternalServiceError', 'InternalServerError', `The service encountered an unexpected internal error. Request id: ${requestId}`);
      return sendJson(res, fault.status, body, { ...headers, ...fault.headers });
    }
    if (fault.kind === 'rate_limit') {
      const limit: Record<string, string> = { ...headers };
      if (fault.retryAfterSeconds !== undefined) limit['retry-after'] = String(fault.retryAfterSeconds);
      if (fault.retryAfterMs !== undefined) limit['retry-after-ms'] = String(fault.retryAfterMs);
      const message = `The Requests Per Minute (RPM) limit of the associated endpoint for your account has been exceeded. Request id: ${requestId}`;
      return sendJson(res, 429, arkError('RateLimitExceeded.EndpointRPMExceeded', 'TooManyRequests', message), limit);
    }
    if (fault.kind === 'moderation') {
      const message = `The request failed because the input text may contain sensitive information. Request id: ${requestId}`;
      return sendJson(res, 400, arkError('InputTextSensitiveContentDetected', 'BadRequest', message), headers);
    }
    if (received.method !== 'POST' || received.path !== GENERATIONS_PATH) {
      return sendJson(res, 404, arkError('NotFound', 'NotFound', `The requested path ${received.path} is not found.`), headers);
    }
    const reply = await this.#generate(received, fault);
    if (reply.status === 200 && fault.kind === 'truncate') return sendTruncated(res, reply.body);
    if (reply.status === 200 && fault.kind === 'invalid_json') {
      res
        .writeHead(200, { 'content-type': 'application/json', ...headers })
        .end('{"model": "doubao-seedream-4-0-250828", "created": 1, "data": [ {"b64_json": ');
      return;
    }
    sendJson(res, reply.status, reply.body, headers);
  }

  async #generate(received: Received, fault: Fault): Promise<Reply> {
    const body = received.json;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('InvalidParameter', 'The request body is not a JSON object.');
    const fields = body as Record<string, unknown>;
    const unknown = Object.keys(fields).find((key) => !DOCUMENTED_FIELDS.has(key) || SEEDREAM_3_ONLY.has(key));
    if (unknown !== undefined) return invalid(`InvalidParameter.${unknown}`, `A parameter specified in the request is not valid: ${unknown}`);

    const asked = asText(fields['model'] ?? '');
    const model = this.#endpoints.get(asked) ?? asked;
    const rules = MODEL_RULES[model];
    if (rules === undefined) {
      return {
        status: 404,
        body: arkError('InvalidEndpointOrModel.NotFound', 'NotFound', `The model or endpoint ${asked} does not exist or you do not have access to it.`),
      };
    }
    const prompt = fields['prompt'];
    if (typeof prompt !== 'string' || prompt === '')
      return invalid('MissingParameter.prompt', 'The request failed because it is missing a required parameter: prompt');
    if (fields['response_format'] !== undefined && fields['response_format'] !== 'url' && fields['response_format'] !== 'b64_json') {
      return invalid('InvalidParameter.response_format', 'A parameter specified in the request is not valid: response_format');
    }
    if (fields['watermark'] !== undefined && typeof fields['watermark'] !== 'boolean')
      return invalid('InvalidParameter.watermark', 'A parameter specified in the request is not valid: watermark');

    const size = readSize(fields['size'] ?? '2048x2048', rules);
    if (typeof size === 'string') return invalid('InvalidParameter.size', size);

    const references = fields['image'] === undefined ? [] : Array.isArray(fields['image']) ? fields['image'] : [fields['image']];
    if (references.length > 14) return invalid('InvalidParameter.image', 'At most 14 reference images are supported.');
    if (!references.every((ref) => typeof ref === 'string' && REFERENCE.test(ref))) {
      return { status: 400, body: arkError('InvalidImageURL.InvalidFormat', 'BadRequest', 'Invalid base64 image url') };
    }

    const sequential = fields['sequential_image_generation'] ?? 'disabled';
    if (sequential !== 'auto' && sequential !== 'disabled')
      return invalid('InvalidParameter.sequential_image_generation', 'sequential_image_generation must be auto or disabled');
    const options = fields['sequential_image_generation_options'];
    const maxImages = typeof options === 'object' && options !== null ? (options as Record<string, unknown>)['max_images'] : undefined;
    if (maxImages !== undefined && (typeof maxImages !== 'number' || !Number.isInteger(maxImages) || maxImages < 1 || maxImages > 15)) {
      return invalid('InvalidParameter.sequential_image_generation_options.max_images', 'max_images must be an integer in [1, 15]');
    }
    // "auto": as many as the prompt describes, within max_images (default 15) and 15 − references.
    const count = sequential === 'auto' ? Math.max(1, Math.min(namedCount(prompt), typeof maxImages === 'number' ? maxImages : 15, 15 - references.length)) : 1;

    const asUrl = (fields['response_format'] ?? 'url') === 'url';
    const data: Array<Record<string, unknown>> = [];
    let made = 0;
    let pixels = 0;
    for (let i = 0; i < count; i += 1) {
      const outcome = this.#pictures.shift() ?? 'ok';
      if (outcome === 'sensitive') {
        data.push({
          error: { code: 'OutputImageSensitiveContentDetected', message: 'The request failed because the output image may contain sensitive information.' },
        });
        continue;
      }
      if (outcome === 'internal') {
        data.push({ error: { code: 'InternalServiceError', message: 'The service encountered an unexpected internal error.' } });
        break;
      }
      this.#drawn += 1;
      const bytes = await fakeImage(size.width, size.height, 'jpeg', (this.#drawn * 7) % 50);
      const image =
        fault.kind === 'bad_base64' ? { b64_json: '!!!not base64!!!' } : asUrl ? { url: this.#store(bytes) } : { b64_json: bytes.toString('base64') };
      data.push({ ...image, size: `${size.width}x${size.height}` });
      made += 1;
      pixels += size.width * size.height;
    }
    const tokens = Math.floor(pixels / 256);
    const usage = fault.kind === 'usage' ? fault.usage : { generated_images: made, output_tokens: tokens, total_tokens: tokens };
    return { status: 200, body: { model, created: Math.floor(Date.now() / 1000), data, usage } };
  }

  /** Stores a picture and returns its signed, expiring link, shaped like Ark's TOS URLs. */
  #store(bytes: Buffer): string {
    const id = randomUUID();
    const expiresAtMs = Date.now() + this.urlTtlMs;
    const signature = createHmac('sha256', this.#secret).update(`${id}:${expiresAtMs}`).digest('hex');
    this.#stored.set(id, { bytes, expiresAtMs, signature });
    const query = new URLSearchParams({
      'X-Tos-Algorithm': 'TOS4-HMAC-SHA256',
      'X-Tos-Credential': 'AKLTfake/20261201/cn-beijing/tos/request',
      'X-Tos-Expires': String(Math.round(this.urlTtlMs / 1000)),
      'X-Tos-Signature': signature,
    });
    return `${this.server.url}${CONTENT_PATH}${id}_0.jpeg?${query.toString()}`;
  }

  #serve(received: Received, fault: Fault, res: ServerResponse): void {
    if (fault.kind === 'status') {
      res.writeHead(fault.status).end();
      return;
    }
    const id = received.path.slice(CONTENT_PATH.length).replace(/_0\.jpeg$/, '');
    const stored = this.#stored.get(id);
    if (stored === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    if (received.query.get('X-Tos-Signature') !== stored.signature || Date.now() > stored.expiresAtMs) {
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': stored.bytes.length }).end(stored.bytes);
  }
}

export async function startArkFake(options: ArkFakeOptions = {}): Promise<ArkFake> {
  return new ArkFake(options).start();
}

/** Ark's error envelope. */
export function arkError(code: string, type: string, message: string): { error: Record<string, string> } {
  return { error: { code, message, param: '', type } };
}

function invalid(code: string, message: string): Reply {
  return { status: 400, body: arkError(code, 'BadRequest', message) };
}

/** How many pictures a prompt describes ("a set of 4 …", "3 images", "生成4张"); 1 when none. */
function namedCount(prompt: string): number {
  const match = /\bset of (\d{1,2})\b|\b(\d{1,2}) (?:images|pictures|posters|illustrations)\b|(\d{1,2})\s*张/i.exec(prompt);
  const named = Number(match?.[1] ?? match?.[2] ?? match?.[3] ?? 1);
  return Number.isFinite(named) && named >= 1 ? named : 1;
}

/** `WxH` within the model's ranges, or a tier it takes (drawn at the tier's 1:1 size); else why not. */
function readSize(value: unknown, rules: { minPixels: number; maxPixels: number; tiers: readonly string[] }): { width: number; height: number } | string {
  const text = String(value);
  const edge = TIER_EDGE[text];
  if (edge !== undefined) return rules.tiers.includes(text) ? { width: edge, height: edge } : `The size ${text} is not supported by this model.`;
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (match === null) return `The size ${text} is not valid.`;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const pixels = width * height;
  if (pixels < rules.minPixels || pixels > rules.maxPixels) return `The total pixels of size ${text} must be within [${rules.minPixels}, ${rules.maxPixels}].`;
  if (width / height > 16 || height / width > 16) return `The aspect ratio of size ${text} must be within [1/16, 16].`;
  return { width, height };
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
