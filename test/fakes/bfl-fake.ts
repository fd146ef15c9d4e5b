import { createHmac, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next task created on the fake ends (queued with `queueTasks`; `ready` when none is):
 * - `ready`: Ready, `result.sample` a signed link to the picture;
 * - `content_moderated` / `request_moderated`: BFL's output and input moderation (HTTP 200);
 * - `error`: status Error;
 * - `not_found`: the fake forgets the task, so every poll answers "Task not found";
 * - `expired_sample`: Ready, but the sample link has already expired (the blob store answers 403);
 * - `ready_without_sample`: Ready with a `result` that lacks `sample` (a malformed answer).
 */
export type BflTaskOutcome = 'ready' | 'content_moderated' | 'request_moderated' | 'error' | 'not_found' | 'expired_sample' | 'ready_without_sample';

export interface BflFakeOptions {
  readonly apiKey?: string;
  /** Polls a task answers before it ends: `pendingStatus` until then, its outcome on this one. */
  readonly pollsUntilDone?: number;
  /** Lifetime of a sample link (BFL's are about 10 minutes). */
  readonly sampleTtlMs?: number;
}

interface Task {
  readonly id: string;
  readonly model: string;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg' | 'webp';
  readonly seed: number;
  readonly prompt: string;
  readonly outcome: BflTaskOutcome;
  polls: number;
}

interface StoredSample {
  readonly bytes: Buffer;
  readonly format: string;
  readonly expiresAtMs: number;
  readonly signature: string;
}

type Reply = { readonly status: number; readonly body: unknown };

/** FLUX1.1 [pro], FLUX.1 [pro]/[dev]: width/height, multiple of 32, 256–1440 (FluxPro11Inputs, FluxDevInputs). */
const FLUX_1_PIXEL_MODELS = new Set(['flux-pro-1.1', 'flux-pro', 'flux-dev']);
/** aspect_ratio only; the long edge at 1:1 they draw at (Ultra about 4 MP, Kontext about 1 MP). */
const ASPECT_MODELS: ReadonlyMap<string, number> = new Map([
  ['flux-pro-1.1-ultra', 2048],
  ['flux-kontext-pro', 1024],
  ['flux-kontext-max', 1024],
]);
/** FLUX.2: width/height of at least 64, multiples of 16, at most 4 MP (Flux2Inputs; 0 means auto). */
const FLUX_2_MODELS = new Set(['flux-2-pro', 'flux-2-max', 'flux-2-flex', 'flux-2-klein-4b', 'flux-2-klein-9b']);
const KONTEXT_OR_FLUX_2_IMAGES = /^input_image(_[2-8])?$/;

/**
 * Black Forest Labs' API as two fakes on 127.0.0.1 (provider notes §4, §10.6):
 * - `api` is what a channel's `baseUrl` names (`https://api.bfl.ai/v1`): `POST /v1/{model}` with
 *   `x-key`, validated as BFL's FastAPI does (422 `{detail: [{loc, msg, type}]}`), answering
 *   `{id, polling_url, cost, input_mp, output_mp}`;
 * - `regional` is another host/port, as BFL's polling URLs point at regional hosts
 *   (`api.eu2.bfl.ai`): `GET /v1/get_result?id=` (with `x-key`) answers `pendingStatus` until the
 *   task ends, then Ready with `result.sample`, a signed link on the same fake (blob-store style
 *   `?se=…&sig=…`) that answers 403 once expired. Unknown ids are "Task not found" in a 200.
 *
 * Faults come from each server's FakeServer queue: `auth` (401), `status`, `rate_limit` (429 with
 * BFL's `retry_after` in the body, no header), `moderation` (a submit whose task ends "Request
 * Moderated"; a poll answering "Content Moderated"), `truncate`, `invalid_json`, `stall`, `delay`.
 */
export class BflFake {
  readonly api: FakeServer;
  readonly regional: FakeServer;
  pollsUntilDone: number;
  sampleTtlMs: number;
  /** The status a running task reports: StatusResponse's "Pending", or "Queued"/"Processing". */
  pendingStatus = 'Pending';
  /** Another origin for the polling URLs it hands out (to test that foreign hosts are refused). */
  pollingOrigin: string | null = null;
  /** performance.now() of every result query that reached the handler. */
  readonly pollTimesMs: number[] = [];
  readonly #apiKey: string;
  readonly #tasks = new Map<string, Task>();
  readonly #outcomes: BflTaskOutcome[] = [];
  readonly #samples = new Map<string, StoredSample>();
  readonly #secret = randomUUID();
  #unseeded = 0;

  constructor(options: BflFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? 'bfl-upstream-key';
    this.pollsUntilDone = options.pollsUntilDone ?? 3;
    this.sampleTtlMs = options.sampleTtlMs ?? 600_000;
    this.api = new FakeServer((received, fault, res) => this.#handleApi(received, fault, res));
    this.regional = new FakeServer((received, fault, res) => this.#handleRegional(received, fault, res));
  }

  /** What a channel's `baseUrl` is set to. */
  get baseUrl(): string {
    return `${this.api.url}/v1`;
  }

  get apiKey(): string {
    return this.#apiKey;
  }

  queueTasks(...outcomes: BflTaskOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  /** Tasks created so far. */
  get taskCount(): number {
    return this.#tasks.size;
  }

  /** Submits that reached the model endpoints (whatever their answer). */
  get submits(): Received[] {
    return this.api.received.filter((r) => r.method === 'POST');
  }

  get polls(): Received[] {
    return this.regional.received.filter((r) => r.path === '/v1/get_result');
  }

  get downloads(): Received[] {
    return this.regional.received.filter((r) => r.path.startsWith('/results/'));
  }

  reset(): void {
    this.api.reset();
    this.regional.reset();
    this.pollTimesMs.length = 0;
    this.#outcomes.length = 0;
    this.pendingStatus = 'Pending';
    this.pollingOrigin = null;
  }

  async start(): Promise<this> {
    await Promise.all([this.api.start(), this.regional.start()]);
    return this;
  }

  async close(): Promise<void> {
    await Promise.all([this.api.close(), this.regional.close()]);
  }

  async #handleApi(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    const refused = this.#refuse(received, fault, res);
    if (refused) return;
    const model = received.method === 'POST' && received.path.startsWith('/v1/') ? decodeURIComponent(received.path.slice('/v1/'.length)) : '';
    let reply: Reply;
    if (!FLUX_1_PIXEL_MODELS.has(model) && !ASPECT_MODELS.has(model) && !FLUX_2_MODELS.has(model)) reply = { status: 404, body: { detail: 'Not Found' } };
    else reply = await this.#submit(model, received, fault.kind === 'moderation');
    this.#send(res, reply, fault);
  }

  async #handleRegional(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.method === 'GET' && received.path.startsWith('/results/')) return this.#serveSample(received, fault, res);
    if (received.path === '/v1/get_result') this.pollTimesMs.push(performance.now());
    if (this.#refuse(received, fault, res)) return;
    if (received.method !== 'GET' || received.path !== '/v1/get_result') return sendJson(res, 404, { detail: 'Not Found' });
    const id = received.query.get('id');
    if (id === null) return sendJson(res, 422, { detail: [{ loc: ['query', 'id'], msg: 'Field required', type: 'missing' }] });
    this.#send(res, await this.#poll(id, fault.kind === 'moderation'), fault);
  }

  /** Key checks and the faults that answer instead of the endpoint; true when it answered. */
  #refuse(received: Received, fault: Fault, res: ServerResponse): boolean {
    const key = received.headers['x-key'];
    if (key === undefined) {
      // FastAPI's APIKeyHeader answer to a request without the header.
      sendJson(res, 403, { detail: 'Not authenticated' });
      return true;
    }
    if (key !== this.#apiKey || fault.kind === 'auth') {
      sendJson(res, 401, { detail: 'Invalid authentication credentials' });
      return true;
    }
    if (fault.kind === 'status') {
      sendJson(res, fault.status, fault.body ?? { detail: 'Internal Server Error' }, fault.headers);
      return true;
    }
    if (fault.kind === 'rate_limit') {
      // BFL's 429 names the wait in its body (BFL API guide, rate-limiting.md).
      sendJson(res, 429, { error: 'rate_limit_exceeded', message: 'Too many concurrent requests', retry_after: fault.retryAfterSeconds ?? 5 });
      return true;
    }
    return false;
  }

  #send(res: ServerResponse, reply: Reply, fault: Fault): void {
    if (reply.status === 200 && fault.kind === 'truncate') return sendTruncated(res, reply.body);
    if (reply.status === 200 && fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "x", "status": ');
      return;
    }
    sendJson(res, reply.status, reply.body);
  }

  async #submit(model: string, received: Received, moderated: boolean): Promise<Reply> {
    if (typeof received.json !== 'object' || received.json === null || Array.isArray(received.json)) {
      return unprocessable(['body'], 'Input should be a valid dictionary or object to extract fields from', 'model_attributes_type');
    }
    const body = received.json as Record<string, unknown>;
    if (typeof body['prompt'] !== 'string' || body['prompt'] === '') return unprocessable(['body', 'prompt'], 'Field required', 'missing');
    const flux2 = FLUX_2_MODELS.has(model);
    const tolerance = body['safety_tolerance'] ?? 2;
    if (typeof tolerance !== 'number' || !Number.isInteger(tolerance) || tolerance < 0 || tolerance > (flux2 ? 5 : 6)) {
      return unprocessable(['body', 'safety_tolerance'], `Input should be less than or equal to ${flux2 ? 5 : 6}`, 'less_than_equal');
    }
    const format = body['output_format'] ?? 'jpeg';
    if (format !== 'jpeg' && format !== 'png' && format !== 'webp')
      return unprocessable(['body', 'output_format'], "Input should be 'jpeg', 'png' or 'webp'", 'enum');
    // "If not provided, a random seed will be used" (FluxUltraInput): unseeded tasks differ (a
    // counter here, so that no two pictures of a test come out alike by chance).
    this.#unseeded += 1;
    const seed = body['seed'] ?? this.#unseeded;
    if (typeof seed !== 'number' || !Number.isInteger(seed)) return unprocessable(['body', 'seed'], 'Input should be a valid integer', 'int_type');
    for (const [name, value] of Object.entries(body)) {
      if (KONTEXT_OR_FLUX_2_IMAGES.test(name) && (typeof value !== 'string' || Buffer.from(value, 'base64').length < 8)) {
        return unprocessable(['body', name], 'Input should be a base64 encoded image or a URL', 'value_error');
      }
    }

    let width: number;
    let height: number;
    const edge = ASPECT_MODELS.get(model);
    if (edge !== undefined) {
      const ratio = parseRatio(body['aspect_ratio'] ?? '1:1');
      if (ratio === null || ratio > 21 / 9 + 1e-9 || ratio < 9 / 21 - 1e-9) {
        return unprocessable(['body', 'aspect_ratio'], 'Aspect ratio must be between 21:9 and 9:21', 'value_error');
      }
      width = Math.round(Math.sqrt(edge * edge * ratio) / 32) * 32;
      height = Math.round(Math.sqrt((edge * edge) / ratio) / 32) * 32;
    } else {
      const step = flux2 ? 16 : 32;
      const [min, max] = flux2 ? [64, 2048] : [256, 1440];
      width = Number(body['width'] ?? 1024);
      height = Number(body['height'] ?? 768);
      for (const [name, value] of [
        ['width', width],
        ['height', height],
      ] as const) {
        if (!Number.isInteger(value) || value % step !== 0) return unprocessable(['body', name], `Input should be a multiple of ${step}`, 'multiple_of');
        if (value < min) return unprocessable(['body', name], `Input should be greater than or equal to ${min}`, 'greater_than_equal');
        if (value > max) return unprocessable(['body', name], `Input should be less than or equal to ${max}`, 'less_than_equal');
      }
      if (flux2 && width * height > 2048 * 2048) return unprocessable(['body'], 'Image exceeds 4 megapixels', 'value_error');
    }
    const outcome = moderated ? 'request_moderated' : (this.#outcomes.shift() ?? 'ready');
    const task: Task = { id: randomUUID(), model, width, height, format, seed, prompt: body['prompt'], outcome, polls: 0 };
    this.#tasks.set(task.id, task);
    const origin = this.pollingOrigin ?? this.regional.url;
    const outputMp = Math.round((width * height) / 10_000) / 100;
    return { status: 200, body: { id: task.id, polling_url: `${origin}/v1/get_result?id=${task.id}`, cost: 4, input_mp: 0, output_mp: outputMp } };
  }

  async #poll(id: string, moderated: boolean): Promise<Reply> {
    const task = this.#tasks.get(id);
    if (task === undefined || task.outcome === 'not_found')
      return { status: 200, body: { id, status: 'Task not found', result: null, progress: null, details: null, preview: null } };
    task.polls += 1;
    const base = { id: task.id, result: null, details: null, preview: null };
    if (moderated) return { status: 200, body: { ...base, status: 'Content Moderated', details: { 'Moderation Reasons': ['Derivative Works Filter'] } } };
    if (task.polls < this.pollsUntilDone) return { status: 200, body: { ...base, status: this.pendingStatus, progress: task.polls / this.pollsUntilDone } };
    switch (task.outcome) {
      case 'content_moderated':
        return { status: 200, body: { ...base, status: 'Content Moderated', details: { 'Moderation Reasons': ['Derivative Works Filter'] } } };
      case 'request_moderated':
        return { status: 200, body: { ...base, status: 'Request Moderated', details: { 'Moderation Reasons': ['Violent content'] } } };
      case 'error':
        return { status: 200, body: { ...base, status: 'Error', details: { error: 'Generation failed' } } };
      case 'ready_without_sample':
        return { status: 200, body: { ...base, status: 'Ready', progress: 1, result: { prompt: task.prompt, seed: task.seed } } };
      default: {
        const sample = await this.#storeSample(task, task.outcome === 'expired_sample');
        const result = { sample, prompt: task.prompt, seed: task.seed, start_time: 1_767_225_600, end_time: 1_767_225_604, duration: 4.1 };
        return { status: 200, body: { ...base, status: 'Ready', progress: 1, result } };
      }
    }
  }

  /** Stores the picture and returns its signed, expiring link (blob-store style, as BFL's delivery links). */
  async #storeSample(task: Task, expired: boolean): Promise<string> {
    const expiresAtMs = expired ? Date.now() - 1000 : Date.now() + this.sampleTtlMs;
    const se = new Date(expiresAtMs).toISOString();
    const signature = createHmac('sha256', this.#secret).update(`${task.id}:${se}`).digest('base64url');
    this.#samples.set(task.id, { bytes: await fakeImage(task.width, task.height, task.format, task.seed % 199), format: task.format, expiresAtMs, signature });
    const ext = task.format === 'jpeg' ? 'jpg' : task.format;
    return `${this.regional.url}/results/${task.id}/sample.${ext}?se=${encodeURIComponent(se)}&sp=r&sig=${encodeURIComponent(signature)}`;
  }

  #serveSample(received: Received, fault: Fault, res: ServerResponse): void {
    if (fault.kind === 'status') {
      res.writeHead(fault.status).end();
      return;
    }
    const id = received.path.split('/')[2] ?? '';
    const stored = this.#samples.get(id);
    if (stored === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>BlobNotFound</Code></Error>');
      return;
    }
    if (received.query.get('sig') !== stored.signature || Date.now() > stored.expiresAtMs) {
      res
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has passed.</Message></Error>');
      return;
    }
    res.writeHead(200, { 'content-type': `image/${stored.format}`, 'content-length': stored.bytes.length }).end(stored.bytes);
  }
}

export async function startBflFake(options: BflFakeOptions = {}): Promise<BflFake> {
  return new BflFake(options).start();
}

function parseRatio(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = /^(\d+):(\d+)$/.exec(value);
  if (match === null) return null;
  const ratio = Number(match[1]) / Number(match[2]);
  return Number.isFinite(ratio) && ratio > 0 ? ratio : null;
}

function unprocessable(loc: readonly string[], msg: string, type: string): Reply {
  return { status: 422, body: { detail: [{ loc, msg, type }] } };
}
