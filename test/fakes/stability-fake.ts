import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';
import { type FakePart, parseMultipart } from './openai-fake.ts';

/**
 * How the next successful-looking generation ends (queued with `queueOutcomes`; `success` when
 * none is): `content_filtered` is Stability's HTTP 200 refusal (finish_reason CONTENT_FILTERED,
 * with a blurred image), `unknown_finish` a finish reason it never documented, `no_image` a
 * SUCCESS without its image.
 */
export type StabilityOutcome = 'success' | 'content_filtered' | 'unknown_finish' | 'no_image';

/** One form the fake took, fields and files by name. */
export interface ReceivedForm {
  readonly path: string;
  readonly fields: ReadonlyMap<string, string>;
  readonly files: ReadonlyMap<string, FakePart>;
  readonly accept: string | undefined;
}

const RATIOS = ['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'];
/** What SD3-family models draw at 1 megapixel, per ratio (multiples of 64). */
const ONE_MEGAPIXEL: Readonly<Record<string, readonly [number, number]>> = {
  '1:1': [1024, 1024],
  '16:9': [1344, 768],
  '21:9': [1536, 640],
  '2:3': [832, 1216],
  '3:2': [1216, 832],
  '4:5': [896, 1088],
  '5:4': [1088, 896],
  '9:16': [768, 1344],
  '9:21': [640, 1536],
};
const SD3_MODELS = ['sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium', 'sd3.5-flash'];
const STYLE_PRESETS = [
  '3d-model',
  'analog-film',
  'anime',
  'cinematic',
  'comic-book',
  'digital-art',
  'enhance',
  'fantasy-art',
  'isometric',
  'line-art',
  'low-poly',
  'modeling-compound',
  'neon-punk',
  'origami',
  'photographic',
  'pixel-art',
  'tile-texture',
];
const GENERATE_FIELDS = ['prompt', 'negative_prompt', 'aspect_ratio', 'seed', 'output_format', 'style_preset'];
/** Fields each endpoint takes (API reference); anything else is refused, so a stray `n` shows. */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  '/v2beta/stable-image/generate/ultra': [...GENERATE_FIELDS, 'image', 'strength'],
  '/v2beta/stable-image/generate/core': GENERATE_FIELDS,
  '/v2beta/stable-image/generate/sd3': [...GENERATE_FIELDS, 'model', 'mode', 'image', 'strength', 'cfg_scale'],
  '/v2beta/stable-image/edit/inpaint': ['image', 'mask', 'prompt', 'negative_prompt', 'seed', 'output_format', 'style_preset', 'grow_mask'],
};
const INPAINT_PATH = '/v2beta/stable-image/edit/inpaint';

/**
 * Stability's v2beta Stable Image API as a fake on 127.0.0.1 (provider notes §5, §10.6). It checks
 * what the real API checks: `Authorization: Bearer`, a multipart body (JSON is refused), the
 * fields each endpoint takes, `aspect_ratio` among the nine, `output_format` (png/jpeg on /sd3),
 * `model` on /sd3, a seed within 0–4294967294, `style_preset`, and Inpaint's image limits. It
 * answers `Accept: application/json` with `{image, finish_reason, seed}` and `image/*` with the
 * bytes and `finish-reason`/`seed` headers; errors are `{id, name, errors}` either way.
 *
 * Faults from the FakeServer queue: `auth` (401), `moderation` (403 content_moderation, as a
 * flagged prompt gets), `status` (500 internal_error unless a body is given), `rate_limit` (429,
 * no Retry-After unless the fault names one, as Stability sends none), `truncate`,
 * `invalid_json`, `bad_base64`, `stall`, `delay`.
 */
export class StabilityFake {
  readonly server: FakeServer;
  readonly forms: ReceivedForm[] = [];
  readonly #apiKey: string;
  readonly #outcomes: StabilityOutcome[] = [];
  readonly #images = new Map<string, Promise<Buffer>>();

  constructor(options: { apiKey?: string } = {}) {
    this.#apiKey = options.apiKey ?? 'sk-upstream-test';
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get url(): string {
    return this.server.url;
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
    this.forms.length = 0;
    this.#outcomes.length = 0;
  }

  /** Sets how the next generations that pass every check end, in order. */
  queueOutcomes(...outcomes: StabilityOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    const error = (status: number, name: string, ...errors: string[]): void => sendJson(res, status, { id: randomBytes(16).toString('hex'), name, errors });

    if (received.headers['authorization'] !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return error(401, 'unauthorized', 'authorization: invalid or missing header value');
    }
    const allowed = FIELDS[received.path];
    if (received.method !== 'POST' || allowed === undefined) return error(404, 'not_found', `${received.method} ${received.path} was not found`);
    const accept = received.headers['accept'];
    if (accept !== 'application/json' && accept !== 'image/*') return error(400, 'bad_request', 'accept: must be image/* or application/json');
    const parts = parseMultipart(received.body, received.headers['content-type']);
    if (parts === null) return error(400, 'bad_request', 'content-type: must be multipart/form-data');
    const fields = new Map<string, string>();
    const files = new Map<string, FakePart>();
    for (const part of parts) {
      if (part.filename !== null) files.set(part.name, part);
      else fields.set(part.name, part.data.toString('utf8'));
    }
    this.forms.push({ path: received.path, fields, files, accept });

    const unknown = [...fields.keys(), ...files.keys()].find((name) => !allowed.includes(name));
    if (unknown !== undefined) return error(400, 'bad_request', `${unknown}: unknown field`);
    const prompt = fields.get('prompt') ?? '';
    if (prompt.length < 1 || prompt.length > 10_000) return error(400, 'bad_request', 'prompt: must be between 1 and 10000 characters');
    const format = fields.get('output_format') ?? 'png';
    const formats = received.path.endsWith('/sd3') ? ['png', 'jpeg'] : ['png', 'jpeg', 'webp'];
    if (!formats.includes(format)) return error(400, 'bad_request', `output_format: must be one of ${formats.join(', ')}`);
    const seedText = fields.get('seed') ?? '0';
    const seed = Number(seedText);
    if (!/^\d+$/.test(seedText) || seed > 4_294_967_294) return error(400, 'bad_request', 'seed: must be an integer between 0 and 4294967294');
    const style = fields.get('style_preset');
    if (style !== undefined && !STYLE_PRESETS.includes(style)) return error(400, 'bad_request', `style_preset: unknown preset '${style}'`);

    let size: readonly [number, number];
    if (received.path === INPAINT_PATH) {
      const input = await imageSize(files.get('image'));
      if (input === null) return error(400, 'bad_request', 'image: required, a jpeg, png or webp file');
      const [width, height] = input;
      if (Math.min(width, height) < 64 || width * height < 4096 || width * height > 9_437_184) {
        return error(400, 'bad_request', 'image: every side must be at least 64 pixels and the image 4,096 to 9,437,184 pixels');
      }
      if (files.has('mask') && (await imageSize(files.get('mask'))) === null) return error(400, 'bad_request', 'mask: must be an image');
      size = input;
    } else {
      const ratio = fields.get('aspect_ratio') ?? '1:1';
      if (!RATIOS.includes(ratio)) return error(400, 'bad_request', `aspect_ratio: must be one of ${RATIOS.join(', ')}`);
      if (received.path.endsWith('/sd3') && !SD3_MODELS.includes(fields.get('model') ?? 'sd3.5-large')) {
        return error(400, 'bad_request', `model: must be one of ${SD3_MODELS.join(', ')}`);
      }
      const [width, height] = ONE_MEGAPIXEL[ratio] ?? [1024, 1024];
      // Core draws about 1.5 megapixels (API reference, "Output"), still in steps of 64.
      const scale = received.path.endsWith('/core') ? Math.sqrt(1.5) : 1;
      size = [Math.round((width * scale) / 64) * 64, Math.round((height * scale) / 64) * 64];
    }

    if (fault.kind === 'moderation' || prompt.includes('forbidden')) {
      return error(
        403,
        'content_moderation',
        'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
      );
    }
    if (fault.kind === 'status') {
      if (fault.body !== undefined) return sendJson(res, fault.status, fault.body, fault.headers);
      return error(fault.status, 'internal_error', 'An unexpected server error has occurred, please try again later.');
    }
    if (fault.kind === 'rate_limit') {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      const body = {
        id: randomBytes(16).toString('hex'),
        name: 'rate_limit_exceeded',
        errors: ['You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.'],
      };
      return sendJson(res, 429, body, headers);
    }

    const outcome = this.#outcomes.shift() ?? 'success';
    const [width, height] = size;
    const bytes = await this.#image(width, height, format === 'jpeg' ? 'jpeg' : format === 'webp' ? 'webp' : 'png', seed);
    const finishReason = outcome === 'content_filtered' ? 'CONTENT_FILTERED' : outcome === 'unknown_finish' ? 'PARTIAL' : 'SUCCESS';
    const servedSeed = seed === 0 ? 1_234_567 : seed;
    if (accept === 'image/*') {
      res.writeHead(200, { 'content-type': `image/${format}`, 'content-length': bytes.length, 'finish-reason': finishReason, seed: String(servedSeed) });
      res.end(bytes);
      return;
    }
    const image = fault.kind === 'bad_base64' ? `${bytes.toString('base64').slice(0, 64)}!!not base64!!` : bytes.toString('base64');
    const body = { ...(outcome === 'no_image' ? {} : { image }), finish_reason: finishReason, seed: servedSeed };
    if (fault.kind === 'truncate') return sendTruncated(res, body);
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"image": "iVBORw0KGgo", "finish_reason": ');
      return;
    }
    // What Stability sends in JSON mode: the image's own type as a parameter.
    const text = JSON.stringify(body);
    res.writeHead(200, {
      'content-type': `application/json; type=image/${format}`,
      'content-length': Buffer.byteLength(text),
      'x-request-id': randomBytes(8).toString('hex'),
    });
    res.end(text);
  }

  /** Generated images are cached by what makes them differ: a 1.5 MP gradient costs a moment. */
  #image(width: number, height: number, format: 'png' | 'jpeg' | 'webp', seed: number): Promise<Buffer> {
    const key = `${width}x${height}.${format}.${seed % 50}`;
    let image = this.#images.get(key);
    if (image === undefined) {
      image = fakeImage(width, height, format, seed % 50);
      this.#images.set(key, image);
    }
    return image;
  }
}

export async function startStabilityFake(options: { apiKey?: string } = {}): Promise<StabilityFake> {
  return new StabilityFake(options).start();
}

async function imageSize(part: FakePart | undefined): Promise<readonly [number, number] | null> {
  if (part === undefined) return null;
  try {
    const meta = await sharp(part.data).metadata();
    return meta.width === undefined || meta.height === undefined ? null : [meta.width, meta.height];
  } catch {
    return null;
  }
}
