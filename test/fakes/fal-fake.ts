import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next request queued on the fake ends (queued with `queueOutcomes`; `ok` when none is):
 * - `ok`: COMPLETED, the result lists `num_images` CDN links, none flagged;
 * - `nsfw_all`: every image flagged (`has_nsfw_concepts: [true…]`, black squares, HTTP 200);
 * - `nsfw_first`: the first image flagged, the others clean;
 * - `policy_422`: the result answers 422 with a `content_policy_violation` error (fal's model errors);
 * - `validation_422`: the result answers 422 with a FastAPI validation list;
 * - `run_failed`: COMPLETED with `error`/`error_type` (a runner that died, after fal's retries);
 * - `data_uri`: the images come as data URIs (fal's sync mode);
 * - `too_few`: one image fewer than asked, none flagged.
 */
export type FalOutcome = 'ok' | 'nsfw_all' | 'nsfw_first' | 'policy_422' | 'validation_422' | 'run_failed' | 'data_uri' | 'too_few';

export interface FalFakeOptions {
  readonly apiKey?: string;
  /** Status polls a request answers before it is COMPLETED (IN_QUEUE, then IN_PROGRESS). */
  readonly pollsUntilDone?: number;
}

interface QueuedRequest {
  readonly id: string;
  readonly endpoint: string;
  /** `{owner}/{alias}`: what the queue URLs keep of the endpoint id. */
  readonly app: string;
  readonly input: Record<string, unknown>;
  readonly width: number;
  readonly height: number;
  readonly count: number;
  readonly format: 'png' | 'jpeg';
  readonly seed: number;
  readonly outcome: FalOutcome;
  polls: number;
  cancelled: boolean;
}

type Reply = { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> };

/** Endpoints the fake runs, and how each is sized: pixels (`image_size`) or `aspect_ratio`. */
const PIXEL_ENDPOINTS = new Set(['fal-ai/flux/dev', 'fal-ai/flux/schnell']);
/** FLUX1.1 [pro] ultra on fal: `aspect_ratio`, about 4 MP (fal's flux-pro/v1.1-ultra page). */
const ULTRA_ENDPOINT = 'fal-ai/flux-pro/v1.1-ultra';
const ULTRA_SIZES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['21:9', [3136, 1344]],
  ['16:9', [2752, 1536]],
  ['4:3', [2368, 1792]],
  ['3:2', [2496, 1664]],
  ['1:1', [2048, 2048]],
  ['2:3', [1664, 2496]],
  ['3:4', [1792, 2368]],
  ['9:16', [1536, 2752]],
  ['9:21', [1344, 3136]],
]);
/** Kontext on fal edits `image_url` by instruction, at the input's aspect ratio or `aspect_ratio`. */
const EDIT_ENDPOINTS = new Set(['fal-ai/flux-pro/kontext']);

/** fal's `image_size` presets (flux-dev input schema). */
const NAMED_SIZES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['square_hd', [1024, 1024]],
  ['square', [512, 512]],
  ['portrait_4_3', [768, 1024]],
  ['portrait_16_9', [576, 1024]],
  ['landscape_4_3', [1024, 768]],
  ['landscape_16_9', [1024, 576]],
]);

/**
 * fal's queue as two fakes on 127.0.0.1 (provider notes §7, §10.6; docs.fal.ai queue):
 * - `queue` is what a channel's `baseUrl` names (`https://queue.fal.run`): `POST /{endpoint_id}`
 *   with `Authorization: Key …`, answering `{request_id, response_url, status_url, cancel_url,
 *   queue_position, status}` whose URLs drop the endpoint's sub-path (`fal-ai/flux/requests/<id>`);
 *   `GET …/requests/{id}/status` answers 202 IN_QUEUE, 202 IN_PROGRESS, then 200 COMPLETED;
 *   `GET …/requests/{id}` the model output (or the model's error); `PUT …/requests/{id}/cancel`.
 *   Input is validated as fal's models do (422 `{detail: [{loc, msg, type}]}`).
 * - `cdn` serves the images (`v3.fal.media` style links), no key needed.
 *
 * Faults come from the `queue` server's FakeServer queue: `auth` (401), `status`, `rate_limit`
 * (429 with Retry-After), `moderation` (a submit whose result is a 422 content_policy_violation),
 * `truncate`, `invalid_json`, `stall`, `delay`.
 */
export class FalFake {
  readonly queue: FakeServer;
  readonly cdn: FakeServer;
  pollsUntilDone: number;
  /** Another origin for the URLs a submit answers with (to test that foreign hosts are refused). */
  urlOrigin: string | null = null;
  readonly #apiKey: string;
  readonly #requests = new Map<string, QueuedRequest>();
  readonly #outcomes: FalOutcome[] = [];
  readonly #files = new Map<string, { bytes: Buffer; mime: string }>();
  #unseeded = 0;

  constructor(options: FalFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? 'fal-upstream-key';
    this.pollsUntilDone = options.pollsUntilDone ?? 2;
    this.queue = new FakeServer((received, fault, res) => this.#handleQueue(received, fault, res));
    this.cdn = new FakeServer((received, _fault, res) => this.#serveFile(received, res));
  }

  get baseUrl(): string {
    return this.queue.url;
  }

  get apiKey(): string {
    return this.#apiKey;
  }

  queueOutcomes(...outcomes: FalOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  /** Requests queued so far. */
  get requestCount(): number {
    return this.#requests.size;
  }

  get submits(): Received[] {
    return this.queue.received.filter((r) => r.method === 'POST');
  }

  get polls(): Received[] {
    return this.queue.received.filter((r) => r.method === 'GET' && r.path.endsWith('/status'));
  }

  get resultFetches(): Received[] {
    return this.queue.received.filter((r) => r.method === 'GET' && /\/requests\/[^/]+$/.test(r.path));
  }

  get cancels(): Received[] {
    return this.queue.received.filter((r) => r.method === 'PUT');
  }

  get downloads(): Received[] {
    return this.cdn.received;
  }

  reset(): void {
    this.queue.reset();
    this.cdn.reset();
    this.#outcomes.length = 0;
    this.#requests.clear();
    this.#files.clear();
    this.urlOrigin = null;
  }

  async start(): Promise<this> {
    await Promise.all([this.queue.start(), this.cdn.start()]);
    return this;
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.cdn.close()]);
  }

  async #handleQueue(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    const auth = received.headers['authorization'];
    if (auth === undefined) return sendJson(res, 401, { detail: 'Missing authorization header' });
    if (auth !== `Key ${this.#apiKey}` || fault.kind === 'auth') return sendJson(res, 401, { detail: 'Invalid key' });
    if (fault.kind === 'status')
      return sendJson(res, fault.status, fault.body ?? { detail: 'Internal Server Error', error_type: 'internal_error' }, fault.headers);
    if (fault.kind === 'rate_limit') {
      return sendJson(res, 429, { detail: 'Too many concurrent requests' }, { 'retry-after': String(fault.retryAfterSeconds ?? 3) });
    }
    const path = received.path.slice(1);
    const match = /^([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(path);
    let reply: Reply;
    if (match !== null) {
      const request = this.#requests.get(match[2] ?? '');
      const app = match[1] ?? '';
      if (request === undefined || request.app !== app) reply = { status: 404, body: { detail: 'Request not found' } };
      else if (match[3] === '/status' && received.method === 'GET') reply = this.#status(request);
      else if (match[3] === '/cancel' && received.method === 'PUT') reply = this.#cancel(request);
      else if (match[3] === undefined && received.method === 'GET') reply = await this.#result(request);
      else reply = { status: 405, body: { detail: 'Method Not Allowed' } };
    } else if (received.method === 'POST') {
      reply =
        PIXEL_ENDPOINTS.has(path) || path === ULTRA_ENDPOINT || EDIT_ENDPOINTS.has(path)
          ? this.#submit(path, received, fault.kind === 'moderation')
          : { status: 404, body: { detail: `Application '${path}' not found` } };
    } else {
      reply = { status: 404, body: { detail: 'Not Found' } };
    }
    if (reply.status < 300 && fault.kind === 'truncate') return sendTruncated(res, reply.body);
    if (reply.status < 300 && fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"request_id": "x", "status": ');
      return;
    }
    sendJson(res, reply.status, reply.body, reply.headers);
  }

  #submit(endpoint: string, received: Received, moderated: boolean): Reply {
    if (typeof received.json !== 'object' || received.json === null || Array.isArray(received.json)) {
      return unprocessable(['body'], 'Input should be a valid dictionary', 'model_attributes_type');
    }
    const input = received.json as Record<string, unknown>;
    if (typeof input['prompt'] !== 'string' || input['prompt'] === '') return unprocessable(['body', 'prompt'], 'Field required', 'missing');
    const count = input['num_images'] ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 4) {
      return unprocessable(['body', 'num_images'], 'Input should be less than or equal to 4', 'less_than_equal');
    }
    const format = input['output_format'] ?? 'jpeg';
    if (format !== 'jpeg' && format !== 'png') return unprocessable(['body', 'output_format'], "Input should be 'jpeg' or 'png'", 'enum');
    this.#unseeded += 1;
    const seed = input['seed'] ?? this.#unseeded;
    if (typeof seed !== 'number' || !Number.isInteger(seed)) return unprocessable(['body', 'seed'], 'Input should be a valid integer', 'int_type');

    let size: readonly [number, number] | undefined;
    if (endpoint === ULTRA_ENDPOINT || EDIT_ENDPOINTS.has(endpoint)) {
      if ('image_size' in input) return unprocessable(['body', 'image_size'], 'Extra inputs are not permitted', 'extra_forbidden');
      size = ULTRA_SIZES.get(asText(input['aspect_ratio'] ?? '16:9'));
      if (size === undefined) return unprocessable(['body', 'aspect_ratio'], 'Input should be one of the listed ratios', 'enum');
      if (EDIT_ENDPOINTS.has(endpoint)) {
        const url = input['image_url'];
        if (typeof url !== 'string' || !/^data:image\/(png|jpeg|webp);base64,/.test(url))
          return unprocessable(['body', 'image_url'], 'Field required', 'missing');
        size = [Math.round(size[0] / 2 / 16) * 16, Math.round(size[1] / 2 / 16) * 16];
      }
    } else {
      const asked = input['image_size'] ?? 'landscape_4_3';
      if (typeof asked === 'string') size = NAMED_SIZES.get(asked);
      else if (typeof asked === 'object' && asked !== null && !Array.isArray(asked)) {
        const { width, height } = asked as Record<string, unknown>;
        if (typeof width === 'number' && typeof height === 'number' && Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) {
          // FLUX works on a 16-pixel latent grid: fal draws the size rounded down onto it.
          size = [Math.floor(width / 16) * 16, Math.floor(height / 16) * 16];
        }
      }
      if (size === undefined) return unprocessable(['body', 'image_size'], 'Input should be a valid image size', 'value_error');
    }
    const app = endpoint.split('/').slice(0, 2).join('/');
    const outcome = moderated ? 'policy_422' : (this.#outcomes.shift() ?? 'ok');
    const request: QueuedRequest = {
      id: randomUUID(),
      endpoint,
      app,
      input,
      width: size[0],
      height: size[1],
      count,
      format,
      seed,
      outcome,
      polls: 0,
      cancelled: false,
    };
    this.#requests.set(request.id, request);
    const base = `${this.urlOrigin ?? this.queue.url}/${app}/requests/${request.id}`;
    return {
      status: 200,
      body: { status: 'IN_QUEUE', request_id: request.id, response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel`, queue_position: 0 },
    };
  }

  #status(request: QueuedRequest): Reply {
    request.polls += 1;
    const base = `${this.queue.url}/${request.app}/requests/${request.id}`;
    const urls = { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
    if (request.polls < this.pollsUntilDone) {
      return request.polls === 1
        ? { status: 202, body: { status: 'IN_QUEUE', queue_position: 0, ...urls } }
        : { status: 202, body: { status: 'IN_PROGRESS', logs: null, ...urls } };
    }
    if (request.outcome === 'run_failed') {
      return { status: 200, body: { status: 'COMPLETED', logs: null, error: 'Runner disconnected', error_type: 'runner_disconnected', ...urls } };
    }
    return { status: 200, body: { status: 'COMPLETED', logs: null, metrics: { inference_time: 1.2 }, ...urls } };
  }

  #cancel(request: QueuedRequest): Reply {
    if (request.polls >= this.pollsUntilDone) return { status: 400, body: { status: 'ALREADY_COMPLETED' } };
    request.cancelled = true;
    return { status: 202, body: { status: 'CANCELLATION_REQUESTED' } };
  }

  async #result(request: QueuedRequest): Promise<Reply> {
    if (request.polls < this.pollsUntilDone) return { status: 400, body: { detail: 'Request is still in progress' } };
    switch (request.outcome) {
      case 'policy_422':
        return {
          status: 422,
          headers: { 'x-fal-retryable': 'false' },
          body: {
            detail: [
              {
                loc: ['body', 'prompt'],
                msg: 'The content was flagged by a content checker.',
                type: 'content_policy_violation',
                url: 'https://docs.fal.ai/errors#content_policy_violation',
                input: request.input['prompt'],
                categories: ['sexual'],
              },
            ],
          },
        };
      case 'validation_422':
        return unprocessable(['body', 'guidance_scale'], 'Input should be less than or equal to 20', 'less_than_equal');
      case 'run_failed':
        return {
          status: 503,
          headers: { 'x-fal-error-type': 'runner_disconnected' },
          body: { detail: 'Runner disconnected', error_type: 'runner_disconnected' },
        };
      default:
        break;
    }
    const count = request.outcome === 'too_few' ? request.count - 1 : request.count;
    const flags = Array.from({ length: count }, (_, i) => request.outcome === 'nsfw_all' || (request.outcome === 'nsfw_first' && i === 0));
    const images = await Promise.all(
      flags.map(async (flagged, i) => {
        // fal's checker paints a flagged image black (provider notes §11).
        const bytes = flagged
          ? await sharp({ create: { width: request.width, height: request.height, channels: 3, background: '#000000' } })
              .toFormat(request.format)
              .toBuffer()
          : await fakeImage(request.width, request.height, request.format, (request.seed + i * 37) % 199);
        const mime = `image/${request.format}`;
        let url: string;
        if (request.outcome === 'data_uri') url = `data:${mime};base64,${bytes.toString('base64')}`;
        else {
          const name = `${randomUUID()}.${request.format === 'jpeg' ? 'jpg' : 'png'}`;
          this.#files.set(name, { bytes, mime });
          url = `${this.cdn.url}/files/${name}`;
        }
        return { url, width: request.width, height: request.height, content_type: mime };
      }),
    );
    return {
      status: 200,
      body: { images, timings: { inference: 1.2 }, seed: request.seed, has_nsfw_concepts: flags, prompt: request.input['prompt'] },
    };
  }

  #serveFile(received: Received, res: ServerResponse): void {
    const stored = this.#files.get(received.path.replace(/^\/files\//, ''));
    if (received.method !== 'GET' || stored === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': stored.mime, 'content-length': stored.bytes.length }).end(stored.bytes);
  }

  /** The request fal has for an id (for checks on cancellation and what was sent). */
  requestById(id: string): QueuedRequest | undefined {
    return this.#requests.get(id);
  }

  /** Every request the fake queued, in order. */
  get requests(): QueuedRequest[] {
    return [...this.#requests.values()];
  }
}

export async function startFalFake(options: FalFakeOptions = {}): Promise<FalFake> {
  return new FalFake(options).start();
}

function unprocessable(loc: readonly string[], msg: string, type: string): Reply {
  return { status: 422, body: { detail: [{ loc, msg, type }] } };
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
