import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next prediction created on the fake ends (queued with `queuePredictions`; `succeeded`
 * when none is):
 * - `succeeded`: output URLs on the fake's delivery path (as replicate.delivery);
 * - `data_uri`: output as `data:image/…;base64,…` (what sync-mode answers may carry);
 * - `nsfw`: failed with flux's safety-checker error text (HTTP 200);
 * - `failed`: failed with a model error;
 * - `canceled`: canceled on Replicate's side;
 * - `no_output`: succeeded with `output: null` (a malformed answer);
 * - `stuck`: processing for ever (until cancelled).
 */
export type ReplicateOutcome = 'succeeded' | 'data_uri' | 'nsfw' | 'failed' | 'canceled' | 'no_output' | 'stuck';

export interface ReplicateFakeOptions {
  readonly apiKey?: string;
  /** GETs a prediction answers `processing` before it ends; 0: it ends within the create call (sync mode). */
  readonly pollsUntilDone?: number;
}

/** What a model on the fake takes (from the models' API schemas on replicate.com). */
interface ModelSchema {
  readonly ratios: readonly string[];
  readonly maxOutputs: number;
  readonly formats: readonly string[];
  /** One URI (Kontext, FLUX1.1 [pro]) or a list of URIs (schnell, dev). */
  readonly singleOutput: boolean;
  readonly imageInput: string | null;
  readonly custom: boolean;
}

const FLUX_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'];

const MODELS: ReadonlyMap<string, ModelSchema> = new Map([
  [
    'black-forest-labs/flux-schnell',
    { ratios: FLUX_RATIOS, maxOutputs: 4, formats: ['webp', 'jpg', 'png'], singleOutput: false, imageInput: null, custom: false },
  ],
  ['black-forest-labs/flux-dev', { ratios: FLUX_RATIOS, maxOutputs: 4, formats: ['webp', 'jpg', 'png'], singleOutput: false, imageInput: null, custom: false }],
  [
    'black-forest-labs/flux-1.1-pro',
    { ratios: [...FLUX_RATIOS, 'custom'], maxOutputs: 1, formats: ['webp', 'jpg', 'png'], singleOutput: true, imageInput: null, custom: true },
  ],
  [
    'black-forest-labs/flux-kontext-pro',
    { ratios: [...FLUX_RATIOS, 'match_input_image'], maxOutputs: 1, formats: ['jpg', 'png'], singleOutput: true, imageInput: 'input_image', custom: false },
  ],
]);

/** A pinned version of flux-dev, as `owner/name:version` channels name it. */
export const FLUX_DEV_VERSION = '6e4a938f85952bdabcc15fa9d8a3fd25f1ea9a4d2dd0c9e0c4e2e8f2e1d0c9b8';

/** The pixels FLUX draws at one megapixel per ratio (flux-schnell/flux-dev on Replicate). */
const ONE_MP: Readonly<Record<string, readonly [number, number]>> = {
  '1:1': [1024, 1024],
  '16:9': [1344, 768],
  '21:9': [1536, 640],
  '3:2': [1216, 832],
  '2:3': [832, 1216],
  '4:5': [896, 1088],
  '5:4': [1088, 896],
  '3:4': [896, 1152],
  '4:3': [1152, 896],
  '9:16': [768, 1344],
  '9:21': [640, 1536],
};

interface Prediction {
  readonly id: string;
  readonly model: string;
  readonly input: Record<string, unknown>;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg' | 'webp';
  readonly count: number;
  readonly seed: number;
  readonly outcome: ReplicateOutcome;
  readonly singleOutput: boolean;
  readonly createdAt: string;
  polls: number;
  canceled: boolean;
}

type Reply = { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> };

/**
 * Replicate's HTTP API on 127.0.0.1 (provider notes §6): `POST /v1/models/{owner}/{name}/predictions`
 * and `POST /v1/predictions` (`{version, input}`) with `Authorization: Bearer`, answering 201 with a
 * prediction object (`starting`, or terminal when it ends within the call); `GET /v1/predictions/{id}`
 * (`processing` until `pollsUntilDone` polls, then terminal); `POST /v1/predictions/{id}/cancel`;
 * outputs served under `/delivery/…`. Validation answers 422 problem details with `invalid_fields`.
 *
 * Faults come from the FakeServer queue: `auth` (401), `status`, `rate_limit` (429 with
 * Replicate's "resets in ~Ns" detail and a Retry-After header), `moderation` (the prediction fails
 * NSFW), `truncate`, `invalid_json`, `stall`, `delay`.
 */
export class ReplicateFake {
  readonly server: FakeServer;
  pollsUntilDone: number;
  /** Another origin for the `urls` it hands out (to test that foreign hosts are refused). */
  urlsOrigin: string | null = null;
  readonly #apiKey: string;
  readonly #predictions = new Map<string, Prediction>();
  readonly #outcomes: ReplicateOutcome[] = [];
  readonly #outputs = new Map<string, Buffer>();
  #unseeded = 0;

  constructor(options: ReplicateFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? 'r8_upstream_test_key';
    this.pollsUntilDone = options.pollsUntilDone ?? 0;
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get baseUrl(): string {
    return `${this.server.url}/v1`;
  }

  get apiKey(): string {
    return this.#apiKey;
  }

  queuePredictions(...outcomes: ReplicateOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  /** Create calls that reached the fake (whatever their answer). */
  get creates(): Received[] {
    return this.server.received.filter((r) => r.method === 'POST' && r.path.endsWith('/predictions'));
  }

  get polls(): Received[] {
    return this.server.received.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/'));
  }

  get cancels(): Received[] {
    return this.server.received.filter((r) => r.method === 'POST' && r.path.endsWith('/cancel'));
  }

  get downloads(): Received[] {
    return this.server.received.filter((r) => r.path.startsWith('/delivery/'));
  }

  get predictionCount(): number {
    return this.#predictions.size;
  }

  /** Whether a prediction was cancelled through the API. */
  wasCanceled(id: string): boolean {
    return this.#predictions.get(id)?.canceled === true;
  }

  get predictionIds(): string[] {
    return [...this.#predictions.keys()];
  }

  reset(): void {
    this.server.reset();
    this.#outcomes.length = 0;
    this.#predictions.clear();
    this.urlsOrigin = null;
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.path.startsWith('/delivery/')) return this.#serveOutput(received, res);
    const auth = received.headers['authorization'];
    if (auth !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return sendJson(
        res,
        401,
        { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 },
        { 'content-type': 'application/problem+json' },
      );
    }
    if (fault.kind === 'status')
      return sendJson(res, fault.status, fault.body ?? { title: 'Internal Server Error', detail: 'Something went wrong', status: fault.status }, fault.headers);
    if (fault.kind === 'rate_limit') {
      const seconds = fault.retryAfterSeconds ?? 30;
      return sendJson(res, 429, { detail: `Request was throttled. Your rate limit resets in ~${seconds}s.` }, { 'retry-after': String(seconds) });
    }
    const reply = await this.#route(received, fault.kind === 'moderation');
    if (reply.status < 300 && fault.kind === 'truncate') return sendTruncated(res, reply.body);
    if (reply.status < 300 && fault.kind === 'invalid_json') {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end('{"id": "x", "status": ');
      return;
    }
    sendJson(res, reply.status, reply.body, reply.headers);
  }

  async #route(received: Received, moderated: boolean): Promise<Reply> {
    const official = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(received.path);
    if (received.method === 'POST' && official !== null) return this.#create(`${official[1]}/${official[2]}`, received, moderated);
    if (received.method === 'POST' && received.path === '/v1/predictions') {
      const version = asText((received.json as { version?: unknown } | undefined)?.version ?? '');
      if (version !== FLUX_DEV_VERSION)
        return {
          status: 422,
          body: problem(422, 'Invalid version or not permitted', 'The specified version does not exist (or perhaps you do not have permission to use it?)'),
        };
      return this.#create('black-forest-labs/flux-dev', received, moderated);
    }
    const get = /^\/v1\/predictions\/([^/]+)$/.exec(received.path);
    if (received.method === 'GET' && get !== null) return this.#poll(get[1] ?? '');
    const cancel = /^\/v1\/predictions\/([^/]+)\/cancel$/.exec(received.path);
    if (received.method === 'POST' && cancel !== null) {
      const prediction = this.#predictions.get(cancel[1] ?? '');
      if (prediction === undefined) return { status: 404, body: problem(404, 'Not found', 'The requested resource could not be found.') };
      prediction.canceled = true;
      return { status: 200, body: await this.#view(prediction) };
    }
    return { status: 404, body: problem(404, 'Not found', 'The requested resource could not be found.') };
  }

  async #create(model: string, received: Received, moderated: boolean): Promise<Reply> {
    const schema = MODELS.get(model);
    if (schema === undefined) return { status: 404, body: problem(404, 'Not found', 'The requested resource could not be found.') };
    const body = received.json;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return { status: 400, body: problem(400, 'Bad request', 'The request body is not JSON') };
    const rawInput = (body as { input?: unknown }).input;
    if (typeof rawInput !== 'object' || rawInput === null || Array.isArray(rawInput)) return invalid('input', 'input is required');
    const input = rawInput as Record<string, unknown>;
    const prompt = input['prompt'];
    if (typeof prompt !== 'string' || prompt === '') return invalid('input.prompt', 'prompt is required');
    const ratio = asText(input['aspect_ratio'] ?? '1:1');
    if (!schema.ratios.includes(ratio))
      return invalid('input.aspect_ratio', `aspect_ratio must be one of the following: ${schema.ratios.map((r) => `"${r}"`).join(', ')}`);
    const format = asText(input['output_format'] ?? 'webp');
    if (!schema.formats.includes(format))
      return invalid('input.output_format', `output_format must be one of the following: ${schema.formats.map((f) => `"${f}"`).join(', ')}`);
    const count = input['num_outputs'] ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > schema.maxOutputs) {
      return invalid(
        'input.num_outputs',
        schema.maxOutputs === 1 ? 'num_outputs is not an input of this model' : `num_outputs must be between 1 and ${schema.maxOutputs}`,
      );
    }
    this.#unseeded += 1;
    const seed = input['seed'] ?? this.#unseeded;
    if (typeof seed !== 'number' || !Number.isInteger(seed)) return invalid('input.seed', 'seed must be an integer');

    let [width, height] = ONE_MP[ratio] ?? [1024, 1024];
    if (ratio === 'custom') {
      width = Number(input['width']);
      height = Number(input['height']);
      for (const [name, value] of [
        ['width', width],
        ['height', height],
      ] as const) {
        if (!Number.isInteger(value) || value % 32 !== 0 || value < 256 || value > 1440)
          return invalid(`input.${name}`, `${name} must be a multiple of 32 between 256 and 1440`);
      }
    }
    if (schema.imageInput !== null) {
      // Optional: without it Kontext draws from the prompt alone.
      const image = input[schema.imageInput];
      const dataUri = typeof image === 'string' ? /^data:image\/(png|jpeg|webp);base64,(.+)$/.exec(image) : null;
      if (image !== undefined && dataUri === null) return invalid(`input.${schema.imageInput}`, `${schema.imageInput} must be a URI`);
      if (ratio === 'match_input_image' && dataUri === null) return invalid('input.aspect_ratio', 'match_input_image needs an input_image');
      if (dataUri !== null && ratio === 'match_input_image') {
        const meta = await sharp(Buffer.from(dataUri[2] ?? '', 'base64')).metadata();
        const scale = Math.sqrt((1024 * 1024) / (meta.width * meta.height));
        width = Math.round((meta.width * scale) / 16) * 16;
        height = Math.round((meta.height * scale) / 16) * 16;
      }
    }
    const prediction: Prediction = {
      id: randomUUID().replaceAll('-', '').slice(0, 26),
      model,
      input,
      width,
      height,
      format: format === 'jpg' ? 'jpeg' : format === 'png' ? 'png' : 'webp',
      count,
      seed,
      outcome: moderated ? 'nsfw' : (this.#outcomes.shift() ?? 'succeeded'),
      singleOutput: schema.singleOutput,
      createdAt: new Date().toISOString(),
      polls: 0,
      canceled: false,
    };
    this.#predictions.set(prediction.id, prediction);
    return { status: 201, body: await this.#view(prediction) };
  }

  async #poll(id: string): Promise<Reply> {
    const prediction = this.#predictions.get(id);
    if (prediction === undefined) return { status: 404, body: problem(404, 'Not found', 'The requested resource could not be found.') };
    prediction.polls += 1;
    return { status: 200, body: await this.#view(prediction) };
  }

  /** The prediction object as Replicate shows it at this moment. */
  async #view(prediction: Prediction): Promise<Record<string, unknown>> {
    const base = `${this.urlsOrigin ?? this.server.url}/v1/predictions/${prediction.id}`;
    const object: Record<string, unknown> = {
      id: prediction.id,
      model: prediction.model,
      version: 'hidden',
      input: prediction.input,
      logs: '',
      output: null,
      data_removed: false,
      error: null,
      status: 'starting',
      created_at: prediction.createdAt,
      urls: { get: base, cancel: `${base}/cancel`, stream: `${this.server.url}/stream/${prediction.id}`, web: `https://replicate.com/p/${prediction.id}` },
    };
    if (prediction.canceled) return { ...object, status: 'canceled', completed_at: new Date().toISOString() };
    if (prediction.polls < this.pollsUntilDone || prediction.outcome === 'stuck')
      return { ...object, status: prediction.polls === 0 ? 'starting' : 'processing', started_at: prediction.createdAt };
    const done = { ...object, started_at: prediction.createdAt, completed_at: new Date().toISOString(), metrics: { predict_time: 1.2, total_time: 1.4 } };
    switch (prediction.outcome) {
      case 'nsfw':
        return { ...done, status: 'failed', error: 'NSFW content detected. Try running it again, or try a different prompt.' };
      case 'failed':
        return { ...done, status: 'failed', error: 'CUDA error: out of memory' };
      case 'canceled':
        return { ...done, status: 'canceled' };
      case 'no_output':
        return { ...done, status: 'succeeded', output: null };
      default: {
        const outputs = await this.#store(prediction, prediction.outcome === 'data_uri');
        return { ...done, status: 'succeeded', output: prediction.singleOutput ? outputs[0] : outputs };
      }
    }
  }

  async #store(prediction: Prediction, dataUri: boolean): Promise<string[]> {
    const ext = prediction.format === 'jpeg' ? 'jpg' : prediction.format;
    const outputs: string[] = [];
    for (let i = 0; i < prediction.count; i += 1) {
      const key = `${prediction.id}/out-${i}.${ext}`;
      let bytes = this.#outputs.get(key);
      if (bytes === undefined) {
        bytes = await fakeImage(prediction.width, prediction.height, prediction.format, (prediction.seed + i * 37) % 199);
        this.#outputs.set(key, bytes);
      }
      outputs.push(dataUri ? `data:image/${prediction.format};base64,${bytes.toString('base64')}` : `${this.server.url}/delivery/${key}`);
    }
    return outputs;
  }

  #serveOutput(received: Received, res: ServerResponse): void {
    const bytes = this.#outputs.get(received.path.slice('/delivery/'.length));
    if (bytes === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    const ext = received.path.split('.').pop() ?? 'png';
    res.writeHead(200, { 'content-type': `image/${ext === 'jpg' ? 'jpeg' : ext}`, 'content-length': bytes.length }).end(bytes);
  }
}

export async function startReplicateFake(options: ReplicateFakeOptions = {}): Promise<ReplicateFake> {
  return new ReplicateFake(options).start();
}

function problem(status: number, title: string, detail: string): Record<string, unknown> {
  return { title, detail, status };
}

function invalid(field: string, description: string): Reply {
  return {
    status: 422,
    body: { title: 'Input validation failed', detail: `- ${field}: ${description}`, status: 422, invalid_fields: [{ type: 'invalid', field, description }] },
    headers: { 'content-type': 'application/problem+json' },
  };
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
