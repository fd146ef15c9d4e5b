import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakePng } from './fake-images.ts';

/**
 * Fields of StableDiffusionProcessingTxt2Img / Img2Img the API takes (modules/api/models.py; the
 * pydantic models are generated from the processing classes, so these are the ones the gateway
 * could plausibly send). Anything else gets FastAPI's 422, so a stray OpenAI field shows.
 */
const COMMON_FIELDS = [
  'prompt',
  'negative_prompt',
  'styles',
  'seed',
  'subseed',
  'sampler_name',
  'scheduler',
  'batch_size',
  'n_iter',
  'steps',
  'cfg_scale',
  'width',
  'height',
  'override_settings',
  'override_settings_restore_afterwards',
  'send_images',
  'save_images',
];
const TXT2IMG_FIELDS = [...COMMON_FIELDS, 'enable_hr', 'hr_scale', 'hr_upscaler', 'denoising_strength'];
const IMG2IMG_FIELDS = [
  ...COMMON_FIELDS,
  'init_images',
  'mask',
  'denoising_strength',
  'inpainting_fill',
  'mask_blur',
  'inpaint_full_res',
  'inpainting_mask_invert',
  'resize_mode',
];
const SAMPLERS = ['Euler', 'Euler a', 'DPM++ 2M', 'DPM++ SDE', 'DDIM'];

/** A job the fake is running: what was asked, and how to finish it early. */
interface Job {
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  readonly seed: number;
  previewsServed: number;
  finish: () => void;
}

/** One img2img request as the fake decoded it. */
export interface ReceivedImg2Img {
  readonly init: { width: number; height: number };
  /** The mask's grey values as one byte per pixel, and its size; null without a mask. */
  readonly mask: { data: Buffer; width: number; height: number } | null;
}

/** How the fake A1111 server is set up. */
export interface Automatic1111FakeOptions {
  /** `--api-auth user:password`: HTTP basic on every route. Absent, no auth (the default). */
  readonly auth?: { username: string; password: string };
  /** Checkpoint titles the server has (`/sdapi/v1/sd-models`); others answer 404 "Model not found". */
  readonly checkpoints?: readonly string[];
}

/**
 * AUTOMATIC1111's web UI API as a fake on 127.0.0.1 (provider notes §8a; api.py, models.py):
 * `POST /sdapi/v1/txt2img` and `/sdapi/v1/img2img` answer `{images: [base64 PNG], parameters,
 * info: "<JSON string>"}` once the job is done; `GET /sdapi/v1/progress` answers
 * `{progress, eta_relative, state, current_image, textinfo}`, where `current_image` is the live
 * preview of the running batch as A1111 draws it (a grid of the batch at 1/8 of its size, as the
 * cheap approximate decoder gives); `POST /sdapi/v1/interrupt` ends the running job early.
 * Errors are A1111's `{error, detail, body, errors}`.
 *
 * Jobs: with `previewsPerJob` k > 0 a job answers only once its k-th preview has been served by
 * `/progress` (or it is interrupted), which makes streaming tests deterministic without timing.
 *
 * Faults (consumed by every request, progress polls included): `auth` (401), `status` (500
 * `OutOfMemoryError` unless a body is given), `rate_limit` (429 from a proxy in front, with
 * Retry-After), `truncate`, `invalid_json`, `bad_base64`, `stall` (FakeServer never answers the request).
 */
export class Automatic1111Fake {
  readonly server: FakeServer;
  readonly img2img: ReceivedImg2Img[] = [];
  /** Previews each job serves before it answers (0: it answers at once). */
  previewsPerJob = 0;
  /** Interrupts received. */
  interrupts = 0;
  readonly #auth: Automatic1111FakeOptions['auth'];
  readonly #checkpoints: readonly string[];
  #job: Job | null = null;
  readonly #interruptWaiters: Array<() => void> = [];

  constructor(options: Automatic1111FakeOptions = {}) {
    this.#auth = options.auth;
    this.#checkpoints = options.checkpoints ?? ['sd_xl_base_1.0.safetensors [31e35c80fc]', 'v1-5-pruned-emaonly.safetensors'];
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
    this.#job?.finish();
    return this.server.close();
  }

  reset(): void {
    this.server.reset();
    this.img2img.length = 0;
    this.previewsPerJob = 0;
    this.interrupts = 0;
  }

  /** Resolves once the next interrupt has arrived (or at once if one came since the last reset). */
  interrupted(): Promise<void> {
    if (this.interrupts > 0) return Promise.resolve();
    return new Promise((resolve) => this.#interruptWaiters.push(resolve));
  }

  /** The JSON bodies of the job requests (txt2img and img2img), in order. */
  jobs(): Record<string, unknown>[] {
    return this.server.received.filter((r) => r.path.endsWith('2img')).map((r) => (isRecord(r.json) ? r.json : {}));
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    const error = (status: number, exception: string, detail: unknown, headers: Record<string, string> = {}): void =>
      sendJson(res, status, { error: exception, detail, body: '', errors: typeof detail === 'string' ? detail : '' }, headers);

    if (this.#auth !== undefined) {
      const expected = `Basic ${Buffer.from(`${this.#auth.username}:${this.#auth.password}`).toString('base64')}`;
      if (received.headers['authorization'] === undefined) return error(401, 'HTTPException', 'Not authenticated', { 'www-authenticate': 'Basic' });
      if (received.headers['authorization'] !== expected) return error(401, 'HTTPException', 'Incorrect username or password', { 'www-authenticate': 'Basic' });
    }
    if (fault.kind === 'auth') return error(401, 'HTTPException', 'Incorrect username or password', { 'www-authenticate': 'Basic' });
    if (received.method === 'GET' && received.path === '/sdapi/v1/progress') return this.#progress(res);
    if (received.method === 'POST' && received.path === '/sdapi/v1/interrupt') {
      this.interrupts += 1;
      this.#job?.finish();
      for (const waiter of this.#interruptWaiters.splice(0)) waiter();
      return sendJson(res, 200, {});
    }
    const isImg2Img = received.path === '/sdapi/v1/img2img';
    if (received.method !== 'POST' || (received.path !== '/sdapi/v1/txt2img' && !isImg2Img)) return error(404, 'HTTPException', 'Not Found');
    if (received.headers['content-type'] !== 'application/json')
      return error(422, 'RequestValidationError', [{ loc: ['body'], msg: 'expected JSON', type: 'value_error' }]);
    const body = received.json;
    if (!isRecord(body)) return error(422, 'RequestValidationError', [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]);
    const allowed = isImg2Img ? IMG2IMG_FIELDS : TXT2IMG_FIELDS;
    const unknown = Object.keys(body).find((key) => !allowed.includes(key));
    // The real API ignores unknown fields (pydantic's default); the fake refuses them so a
    // stray OpenAI field (`n`, `size`, `model`, `response_format`) shows in tests.
    if (unknown !== undefined)
      return error(422, 'RequestValidationError', [{ loc: ['body', unknown], msg: 'extra fields not permitted', type: 'value_error.extra' }]);

    const override = isRecord(body['override_settings']) ? body['override_settings'] : {};
    const checkpoint = asText(override['sd_model_checkpoint']);
    // api.py validate_model: the title, with or without `.safetensors`, must be a known checkpoint.
    const known = this.#checkpoints.some((title) => title === checkpoint || title.replace('.safetensors', '') === checkpoint.replace('.safetensors', ''));
    if (!known) return error(404, 'HTTPException', 'Model not found');
    const sampler = body['sampler_name'] === undefined ? 'Euler' : asText(body['sampler_name']);
    if (!SAMPLERS.includes(sampler)) return error(404, 'HTTPException', 'Sampler not found');
    if (typeof body['prompt'] !== 'string')
      return error(422, 'RequestValidationError', [{ loc: ['body', 'prompt'], msg: 'str type expected', type: 'type_error.str' }]);
    const int = (key: string, fallback: number): number | null => {
      const value = body[key] ?? fallback;
      return typeof value === 'number' && Number.isInteger(value) ? value : null;
    };
    const width = int('width', 512);
    const height = int('height', 512);
    const batch = int('batch_size', 1);
    const seed = int('seed', -1);
    if (width === null || height === null || batch === null || seed === null || batch < 1) {
      return error(422, 'RequestValidationError', [{ loc: ['body', 'width'], msg: 'value is not a valid integer', type: 'type_error.integer' }]);
    }

    let size = { width, height };
    if (isImg2Img) {
      const images = body['init_images'];
      if (!Array.isArray(images) || images.length === 0) return error(404, 'HTTPException', 'Init image not found');
      const init = await decodeImage(images[0]);
      if (init === null) return error(500, 'HTTPException', 'Invalid encoded image');
      let mask: ReceivedImg2Img['mask'] = null;
      if (body['mask'] !== undefined) {
        const decoded = await decodeImage(body['mask']);
        if (decoded === null) return error(500, 'HTTPException', 'Invalid encoded image');
        const grey = await sharp(decoded.bytes).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
        mask = { data: grey.data, width: grey.info.width, height: grey.info.height };
      }
      this.img2img.push({ init: { width: init.width, height: init.height }, mask });
      // The output has the asked size (resize_mode 0, "Just resize").
      size = { width, height };
    }
    if (fault.kind === 'status') {
      if (fault.body !== undefined) return sendJson(res, fault.status, fault.body, fault.headers);
      return error(fault.status, 'OutOfMemoryError', 'CUDA out of memory. Tried to allocate 2.00 GiB');
    }
    if (fault.kind === 'rate_limit') {
      // A1111 has no rate limit of its own; a reverse proxy in front of it answers 429.
      const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return sendJson(res, 429, { detail: 'Too Many Requests' }, headers);
    }

    // The latent is 1/8 of the picture: sizes are floored to multiples of 8.
    const drawn = { width: Math.floor(size.width / 8) * 8, height: Math.floor(size.height / 8) * 8 };
    const firstSeed = seed === -1 ? 1_234_567 : seed;
    await this.#run({ ...drawn, batch, seed: firstSeed }, res);
    if (res.destroyed) return;
    const images = await Promise.all(
      Array.from({ length: batch }, async (_, i) => (await fakePng(drawn.width, drawn.height, (firstSeed + i) % 50)).toString('base64')),
    );
    const info = {
      prompt: body['prompt'],
      all_prompts: images.map(() => body['prompt']),
      seed: firstSeed,
      all_seeds: images.map((_, i) => firstSeed + i),
      width: drawn.width,
      height: drawn.height,
      sampler_name: sampler,
      sd_model_name: checkpoint,
    };
    const answer = {
      images: fault.kind === 'bad_base64' ? images.map((text) => `${text.slice(0, 40)}!!not base64!!`) : images,
      parameters: body,
      info: JSON.stringify(info),
    };
    if (fault.kind === 'truncate') return sendTruncated(res, answer);
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"images": ["iVBORw0KGgo');
      return;
    }
    sendJson(res, 200, answer, { 'x-process-time': '0.5' });
  }

  /** Holds a job until its previews are served, it is interrupted, or the client leaves. */
  async #run(job: Omit<Job, 'previewsServed' | 'finish'>, res: ServerResponse): Promise<void> {
    await new Promise<void>((resolve) => {
      const running: Job = { ...job, previewsServed: 0, finish: resolve };
      this.#job = running;
      res.on('close', () => resolve());
      if (this.previewsPerJob === 0) resolve();
    });
    this.#job = null;
  }

  async #progress(res: ServerResponse): Promise<void> {
    const job = this.#job;
    const idle = { skipped: false, interrupted: false, job: '', job_count: 0, job_timestamp: '0', job_no: 0, sampling_step: 0, sampling_steps: 0 };
    if (job === null || job.previewsServed >= this.previewsPerJob) {
      return sendJson(res, 200, { progress: 0, eta_relative: 0, state: idle, current_image: null, textinfo: null });
    }
    job.previewsServed += 1;
    const preview = await previewGrid(job, job.previewsServed);
    const step = job.previewsServed;
    const body = {
      progress: step / (this.previewsPerJob + 1),
      eta_relative: 1.5,
      state: { ...idle, job: 'scripts_txt2img', job_count: 1, sampling_step: step, sampling_steps: this.previewsPerJob + 1 },
      current_image: preview.toString('base64'),
      textinfo: null,
    };
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    // The job answers once its last preview has gone out.
    res.end(text, () => {
      if (job.previewsServed >= this.previewsPerJob) job.finish();
    });
  }
}

/** The live preview of a batch: A1111's grid (round(√n) rows) of 1/8-size images, as PNG. */
async function previewGrid(job: Job, step: number): Promise<Buffer> {
  const tileWidth = Math.max(8, Math.round(job.width / 8));
  const tileHeight = Math.max(8, Math.round(job.height / 8));
  const rows = Math.min(job.batch, Math.max(1, Math.round(Math.sqrt(job.batch))));
  const cols = Math.ceil(job.batch / rows);
  const tiles = await Promise.all(Array.from({ length: job.batch }, (_, i) => fakePng(tileWidth, tileHeight, (job.seed + i + step * 13) % 50)));
  return sharp({ create: { width: tileWidth * cols, height: tileHeight * rows, channels: 3, background: '#000000' } })
    .composite(tiles.map((input, i) => ({ input, left: (i % cols) * tileWidth, top: Math.floor(i / cols) * tileHeight })))
    .png()
    .toBuffer();
}

async function decodeImage(value: unknown): Promise<{ bytes: Buffer; width: number; height: number } | null> {
  if (typeof value !== 'string') return null;
  const text = value.startsWith('data:image/') ? (value.split(',')[1] ?? '') : value;
  const bytes = Buffer.from(text, 'base64');
  try {
    const meta = await sharp(bytes).metadata();
    if (meta.width === undefined || meta.height === undefined) return null;
    return { bytes, width: meta.width, height: meta.height };
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

export async function startAutomatic1111Fake(options: Automatic1111FakeOptions = {}): Promise<Automatic1111Fake> {
  return new Automatic1111Fake(options).start();
}
