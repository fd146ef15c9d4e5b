import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next answers of the fake are shaped (queued with `queueAnswers`, `normal` when none is):
 * - `normal`: each image as bare base64 in `b64_json` (or a link, as the request asked);
 * - `data_uri`: `b64_json` holds a `data:image/jpeg;base64,…` URL (as xai-sdk-python expects);
 * - `flagged`: the second image (the first when n = 1) failed moderation: `respect_moderation:
 *   false` and no payload (vercel/ai#19185);
 * - `expired_links`: links that have expired before they are fetched (403, like imgen.x.ai).
 */
export type XaiAnswer = 'normal' | 'data_uri' | 'flagged' | 'expired_links';

/** xAI's image models and their fields beyond the common ones (provider notes §9, §11). */
const MODELS: Readonly<Record<string, readonly string[]>> = {
  'grok-imagine-image': [],
  'grok-imagine-image-quality': [],
  'grok-imagine-image-2.0': ['quality'],
};
const COMMON_FIELDS = new Set(['model', 'prompt', 'n', 'response_format', 'aspect_ratio', 'resolution', 'user']);
const EDIT_FIELDS = new Set(['image', 'images']);

/**
 * What xAI draws per ratio at 1k (Runware's xai:grok-imagine@image size table); 2k doubles each
 * edge. `auto` draws a square here.
 */
const SIZES_1K: Readonly<Record<string, readonly [number, number]>> = {
  '1:1': [1024, 1024],
  '3:4': [896, 1280],
  '4:3': [1280, 896],
  '9:16': [768, 1408],
  '16:9': [1408, 768],
  '2:3': [864, 1296],
  '3:2': [1296, 864],
  '9:19.5': [576, 1248],
  '19.5:9': [1248, 576],
  '9:20': [576, 1280],
  '20:9': [1280, 576],
  '1:2': [704, 1408],
  '2:1': [1408, 704],
  auto: [1024, 1024],
};

interface StoredImage {
  readonly bytes: Buffer;
  readonly expiresAtMs: number;
}

/**
 * xAI's images API as a fake on 127.0.0.1 (base URL `${url}/v1`): `POST /v1/images/generations`
 * and `POST /v1/images/edits` (JSON), Bearer keys, and the temporary image links themselves. It
 * checks what xAI checks: an unknown key is a 400 "Incorrect API key provided", `size`, `style`,
 * `quality` (but on grok-imagine-image-2.0) and every other field xAI does not take are a 400
 * "Argument not supported: <field>", `aspect_ratio`, `resolution` and `n` must be in range. It
 * answers JPEGs at xAI's own pixel sizes, with `revised_prompt` and `respect_moderation`.
 *
 * Faults (FakeServer queue): `moderation` is xAI's refusal, an HTTP 200 with `data: []`;
 * `auth` the 400 bad-key answer; `rate_limit` a 429 with Retry-After; `status` any answer;
 * `truncate`, `invalid_json`, `bad_base64`, `stall`, `delay`; `url_answer` links whatever was asked.
 */
export class XaiFake {
  readonly server: FakeServer;
  readonly #apiKey: string;
  readonly #answers: XaiAnswer[] = [];
  readonly #stored = new Map<string, StoredImage>();
  linkTtlMs = 60_000;

  constructor(options: { apiKey?: string } = {}) {
    this.#apiKey = options.apiKey ?? 'xai-upstream-test';
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get url(): string {
    return this.server.url;
  }

  /** The base URL a channel names. */
  get baseUrl(): string {
    return `${this.server.url}/v1`;
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  reset(): void {
    this.server.reset();
    this.#answers.length = 0;
  }

  queueAnswers(...answers: XaiAnswer[]): this {
    this.#answers.push(...answers);
    return this;
  }

  /** The JSON bodies of the image requests received, in order. */
  bodies(): Array<Record<string, unknown>> {
    return this.server.received.filter((r) => r.method === 'POST').map((r) => (r.json ?? {}) as Record<string, unknown>);
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.method === 'GET' && received.path.startsWith('/xai-tmp-imgen-')) return this.#serveLink(received, res);
    if (received.headers['authorization'] !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return sendJson(res, 400, {
        code: 'Client specified an invalid argument',
        error: 'Incorrect API key provided: xa***st. You can obtain an API key from https://console.x.ai.',
      });
    }
    const edit = received.path === '/v1/images/edits';
    if (received.method !== 'POST' || (received.path !== '/v1/images/generations' && !edit)) {
      return sendJson(res, 404, { code: 'Some requested entity was not found', error: `No route for ${received.method} ${received.path}` });
    }
    if (fault.kind === 'status')
      return sendJson(res, fault.status, fault.body ?? { code: 'Internal error', error: 'Service temporarily unavailable.' }, fault.headers);
    if (fault.kind === 'rate_limit') {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      return sendJson(res, 429, { code: 'Some resource has been exhausted', error: 'Your team has exceeded its rate limit for image generation.' }, headers);
    }

    const body = (received.json ?? {}) as Record<string, unknown>;
    const refused = await this.#check(body, edit);
    if (refused !== null) return sendJson(res, refused.status, { code: 'Client specified an invalid argument', error: refused.message });
    if (fault.kind === 'moderation') return sendJson(res, 200, { data: [], usage: { cost_in_usd_ticks: 0 } });
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [{"b64_json": ');
      return;
    }

    const answer = this.#answers.shift() ?? 'normal';
    const n = typeof body['n'] === 'number' ? body['n'] : 1;
    const [width, height] = await this.#pixels(body, edit);
    const asUrl = body['response_format'] !== 'b64_json' || fault.kind === 'url_answer' || answer === 'expired_links';
    const data: Array<Record<string, unknown>> = [];
    for (let i = 0; i < n; i += 1) {
      if (answer === 'flagged' && i === Math.min(1, n - 1)) {
        data.push({ url: '', mime_type: 'image/jpeg', revised_prompt: '', respect_moderation: false });
        continue;
      }
      const bytes = await fakeImage(width, height, 'jpeg', i);
      const item: Record<string, unknown> = {
        mime_type: 'image/jpeg',
        revised_prompt: `A detailed rendering of ${asText(body['prompt'])}`,
        respect_moderation: true,
      };
      if (asUrl) item['url'] = this.#store(bytes, answer === 'expired_links');
      else if (fault.kind === 'bad_base64') item['b64_json'] = '!!!not base64!!!';
      else item['b64_json'] = answer === 'data_uri' ? `data:image/jpeg;base64,${bytes.toString('base64')}` : bytes.toString('base64');
      data.push(item);
    }
    const reply = { data, usage: { cost_in_usd_ticks: 200_000_000 * n } };
    if (fault.kind === 'truncate') return sendTruncated(res, reply);
    sendJson(res, 200, reply, { 'x-request-id': randomUUID() });
  }

  /** The refusal xAI would answer this body with, or null. */
  async #check(body: Record<string, unknown>, edit: boolean): Promise<{ status: number; message: string } | null> {
    const model = typeof body['model'] === 'string' ? body['model'] : '';
    const extra = MODELS[model];
    if (extra === undefined) return { status: 404, message: `The model ${model} does not exist or your team does not have access to it.` };
    for (const field of Object.keys(body)) {
      if (!COMMON_FIELDS.has(field) && !extra.includes(field) && !(edit && EDIT_FIELDS.has(field)))
        return { status: 400, message: `Argument not supported: ${field}` };
    }
    if (typeof body['prompt'] !== 'string' || body['prompt'] === '') return { status: 400, message: 'prompt is required' };
    const n = body['n'] ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) return { status: 400, message: 'n must be between 1 and 10' };
    if (body['aspect_ratio'] !== undefined && SIZES_1K[asText(body['aspect_ratio'])] === undefined)
      return { status: 400, message: `Invalid aspect_ratio ${asText(body['aspect_ratio'])}` };
    if (body['resolution'] !== undefined && body['resolution'] !== '1k' && body['resolution'] !== '2k')
      return { status: 422, message: `Invalid resolution ${asText(body['resolution'])}` };
    if (body['response_format'] !== undefined && body['response_format'] !== 'url' && body['response_format'] !== 'b64_json')
      return { status: 400, message: 'Invalid response_format' };
    if (body['quality'] !== undefined && !['low', 'medium', 'high'].includes(asText(body['quality']))) return { status: 400, message: 'Invalid quality' };
    if (edit) {
      const images = body['images'] ?? (body['image'] === undefined ? [] : [body['image']]);
      if (!Array.isArray(images) || images.length < 1 || images.length > 3) return { status: 400, message: 'An edit takes 1 to 3 images' };
      for (const image of images as Array<{ url?: unknown; type?: unknown }>) {
        if (image.type !== 'image_url' || typeof image.url !== 'string' || !/^data:image\/(png|jpeg|webp);base64,/.test(image.url)) {
          return { status: 400, message: 'Invalid image: give {type: "image_url", url}' };
        }
      }
    }
    return null;
  }

  /** The picture's size: xAI's for the ratio and resolution, or the input's ratio for a one-image edit. */
  async #pixels(body: Record<string, unknown>, edit: boolean): Promise<[number, number]> {
    const scale = body['resolution'] === '2k' ? 2 : 1;
    let ratio = asText(body['aspect_ratio'] ?? 'auto');
    const single = body['image'] as { url?: string } | undefined;
    if (edit && single?.url !== undefined) {
      const meta = await sharp(Buffer.from(single.url.slice(single.url.indexOf(',') + 1), 'base64')).metadata();
      ratio = nearestRatio((meta.width ?? 1) / (meta.height ?? 1));
    }
    const [width, height] = SIZES_1K[ratio] ?? [1024, 1024];
    return [width * scale, height * scale];
  }

  #store(bytes: Buffer, expired: boolean): string {
    const path = `/xai-tmp-imgen-${randomUUID()}.jpeg`;
    this.#stored.set(path, { bytes, expiresAtMs: expired ? Date.now() - 1000 : Date.now() + this.linkTtlMs });
    return `${this.url}${path}`;
  }

  #serveLink(received: Received, res: ServerResponse): void {
    const stored = this.#stored.get(received.path);
    if (stored === undefined || Date.now() > stored.expiresAtMs) {
      res.writeHead(stored === undefined ? 404 : 403, { 'content-type': 'text/plain' }).end('Forbidden');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': stored.bytes.length }).end(stored.bytes);
  }
}

function nearestRatio(value: number): string {
  let best = '1:1';
  let distance = Number.POSITIVE_INFINITY;
  for (const [ratio, [w, h]] of Object.entries(SIZES_1K)) {
    const d = Math.abs(Math.log(w / h) - Math.log(value));
    if (ratio !== 'auto' && d < distance) {
      best = ratio;
      distance = d;
    }
  }
  return best;
}

export async function startXaiFake(options: { apiKey?: string } = {}): Promise<XaiFake> {
  return new XaiFake(options).start();
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
