import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';
import { type WebSocket, WebSocketServer } from 'ws';
import { fakePng } from './fake-images.ts';
import { type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';

/**
 * How the next prompt queued on the fake ends (`queueOutcomes`; `success` when none is queued):
 * - `success`: SaveImage writes `batch_size` PNGs of the latent's size;
 * - `oom`: KSampler fails with torch.OutOfMemoryError (`execution_error`);
 * - `error`: VAEDecode fails with a RuntimeError;
 * - `nsfw`: a safety checker node refuses the picture (`execution_error`, NSFW in its message);
 * - `interrupted`: ComfyUI interrupts it (`execution_interrupted`);
 * - `hang`: the sampler never finishes until `/interrupt` stops it;
 * - `no_outputs`: succeeds, but no node wrote an image.
 */
export type ComfyOutcome = 'success' | 'oom' | 'error' | 'nsfw' | 'interrupted' | 'hang' | 'no_outputs';

/** What the `/ws` endpoint does: serve, refuse the upgrade, or close the socket after the first step. */
export type SocketMode = 'ok' | 'refuse' | 'drop';

export interface ComfyFakeOptions {
  /** When set, every request must carry `Authorization: Bearer <key>` (a proxy in front of ComfyUI). */
  readonly apiKey?: string;
  /** The checkpoints CheckpointLoaderSimple lists. */
  readonly checkpoints?: readonly string[];
  /** Sampler steps per prompt (each a `progress` message and, with previews, a preview frame). */
  readonly steps?: number;
  readonly stepMs?: number;
}

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

interface Job {
  readonly id: string;
  readonly clientId: string | null;
  readonly graph: Graph;
  readonly outcome: ComfyOutcome;
  interrupted: boolean;
  done: boolean;
}

interface ImageRef {
  readonly filename: string;
  readonly subfolder: string;
  readonly type: string;
}

const KNOWN_NODES = new Set([
  'KSampler',
  'KSamplerAdvanced',
  'CheckpointLoaderSimple',
  'EmptyLatentImage',
  'CLIPTextEncode',
  'VAEDecode',
  'SaveImage',
  'PreviewImage',
]);
const OUTPUT_NODES = new Set(['SaveImage', 'PreviewImage']);
/** nodes.py MAX_RESOLUTION. */
const MAX_RESOLUTION = 16_384;

/**
 * A ComfyUI server on 127.0.0.1 (Comfy-Org/ComfyUI server.py, execution.py, main.py):
 * - `POST /prompt {prompt, client_id}` validates the graph as ComfyUI does (unknown classes →
 *   `invalid_prompt`; a checkpoint not installed → `value_not_in_list`; a latent too large →
 *   `value_bigger_than_max`; no output node → `prompt_no_outputs`), answering 400
 *   `{error, node_errors}`, or `{prompt_id, number, node_errors: {}}` and runs the prompt;
 * - `GET /ws?clientId=` sends that client `status`, then for its prompts `execution_start`,
 *   `execution_cached`, `executing`, one `progress` per step with a binary preview frame (type 1:
 *   4-byte event, 4-byte image type JPEG, JPEG bytes) when `previews` is on, `executed`,
 *   `execution_success` or `execution_error` / `execution_interrupted`, and `executing` with
 *   `node: null` at the end;
 * - `GET /history/{id}` answers `{}` until the prompt ended, then its entry with `outputs` and `status`;
 * - `GET /view?filename=&subfolder=&type=` serves the written files (404 otherwise);
 * - `POST /interrupt {prompt_id?}` stops the running prompt, `POST /queue {delete}` is recorded.
 * HTTP faults are queued per route (`queue('/prompt', …)`): status, rate_limit (429 with
 * Retry-After, as a proxy would send it), auth, truncate, invalid_json, stall, delay.
 */
export class ComfyFake {
  readonly received: Received[] = [];
  /** Client ids of the sockets opened on `/ws`. */
  readonly socketClients: string[] = [];
  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Map<string, WebSocket>();
  readonly #faults = new Map<string, Fault[]>();
  readonly #outcomes: ComfyOutcome[] = [];
  readonly #jobs = new Map<string, Job>();
  readonly #history = new Map<string, unknown>();
  readonly #files = new Map<string, Buffer>();
  readonly #apiKey: string | null;
  readonly #checkpoints: readonly string[];
  #number = 0;
  #fileCounter = 0;
  steps: number;
  stepMs: number;
  /** Whether preview frames go out with the progress messages (ComfyUI's `--preview-method`). */
  previews = true;
  socketMode: SocketMode = 'ok';

  constructor(options: ComfyFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? null;
    this.#checkpoints = options.checkpoints ?? ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'];
    this.steps = options.steps ?? 6;
    this.stepMs = options.stepMs ?? 5;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket as Socket, head));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async close(): Promise<void> {
    for (const job of this.#jobs.values()) job.interrupted = true;
    for (const client of this.#clients.values()) client.terminate();
    for (const socket of this.#sockets) socket.destroy();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Queues faults for the next requests whose path starts with `route` (`/prompt`, `/history`, `/view`). */
  queue(route: string, ...faults: Fault[]): this {
    this.#faults.set(route, [...(this.#faults.get(route) ?? []), ...faults]);
    return this;
  }

  queueOutcomes(...outcomes: ComfyOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  reset(): void {
    this.received.length = 0;
    this.socketClients.length = 0;
    this.#faults.clear();
    this.#outcomes.length = 0;
    this.previews = true;
    this.socketMode = 'ok';
    for (const job of this.#jobs.values()) job.interrupted = true;
  }

  /** Prompts accepted or refused (each a `POST /prompt`). */
  get submits(): Received[] {
    return this.received.filter((r) => r.method === 'POST' && r.path === '/prompt');
  }

  requests(method: string, pathStart: string): Received[] {
    return this.received.filter((r) => r.method === method && r.path.startsWith(pathStart));
  }

  /** Prompts still running. */
  get running(): number {
    return [...this.#jobs.values()].filter((job) => !job.done).length;
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const received: Received = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json };
    this.received.push(received);
    const route = [...this.#faults.keys()].find((prefix) => received.path.startsWith(prefix));
    const fault: Fault = (route === undefined ? undefined : this.#faults.get(route)?.shift()) ?? { kind: 'ok' };
    if (fault.kind === 'stall') return;
    if (fault.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (this.#apiKey !== null && received.headers['authorization'] !== `Bearer ${this.#apiKey}`) return sendJson(res, 401, { detail: 'Unauthorized' });
    if (fault.kind === 'auth') return sendJson(res, 401, { detail: 'Unauthorized' });
    if (fault.kind === 'status') return sendJson(res, fault.status, fault.body ?? { error: 'Internal Server Error' }, fault.headers);
    if (fault.kind === 'rate_limit') return sendJson(res, 429, { detail: 'Too Many Requests' }, { 'retry-after': String(fault.retryAfterSeconds ?? 2) });
    const reply = this.#route(received);
    if (reply.kind === 'bytes') {
      res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': reply.bytes.length }).end(reply.bytes);
      return;
    }
    if (fault.kind === 'truncate' && reply.status === 200) return sendTruncated(res, reply.body);
    if (fault.kind === 'invalid_json' && reply.status === 200) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"prompt_id": ');
      return;
    }
    sendJson(res, reply.status, reply.body);
  }

  #route(received: Received): { kind: 'json'; status: number; body: unknown } | { kind: 'bytes'; status: number; contentType: string; bytes: Buffer } {
    const { method, path } = received;
    if (method === 'POST' && path === '/prompt') return { kind: 'json', ...this.#submit(received.json) };
    if (method === 'GET' && path.startsWith('/history/')) {
      const id = decodeURIComponent(path.slice('/history/'.length));
      const entry = this.#history.get(id);
      return { kind: 'json', status: 200, body: entry === undefined ? {} : { [id]: entry } };
    }
    if (method === 'GET' && path === '/view') {
      const key = `${received.query.get('type') ?? 'output'}/${received.query.get('subfolder') ?? ''}/${received.query.get('filename') ?? ''}`;
      const bytes = this.#files.get(key);
      return bytes === undefined
        ? { kind: 'bytes', status: 404, contentType: 'text/plain', bytes: Buffer.alloc(0) }
        : { kind: 'bytes', status: 200, contentType: 'image/png', bytes };
    }
    if (method === 'POST' && path === '/interrupt') {
      const target = asText(objectField(received.json, 'prompt_id'));
      for (const job of this.#jobs.values()) if (!job.done && (target === '' || job.id === target)) job.interrupted = true;
      return { kind: 'bytes', status: 200, contentType: 'text/plain', bytes: Buffer.alloc(0) };
    }
    if (method === 'POST' && path === '/queue') return { kind: 'bytes', status: 200, contentType: 'text/plain', bytes: Buffer.alloc(0) };
    return { kind: 'bytes', status: 404, contentType: 'text/plain', bytes: Buffer.from('404: Not Found') };
  }

  #submit(body: unknown): { status: number; body: unknown } {
    const prompt = objectField(body, 'prompt');
    if (typeof prompt !== 'object' || prompt === null || Array.isArray(prompt)) {
      return {
        status: 400,
        body: { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} },
      };
    }
    const graph = prompt as Graph;
    for (const [id, node] of Object.entries(graph)) {
      if (!KNOWN_NODES.has(node.class_type)) {
        const message = `Cannot execute because node ${asText(node.class_type)} does not exist.`;
        return { status: 400, body: { error: { type: 'invalid_prompt', message, details: `Node ID '#${id}'`, extra_info: {} }, node_errors: {} } };
      }
    }
    if (!Object.values(graph).some((node) => OUTPUT_NODES.has(node.class_type))) {
      return { status: 400, body: { error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} } };
    }
    const nodeErrors: Record<string, unknown> = {};
    const fail = (id: string, classType: string, type: string, message: string, details: string): void => {
      nodeErrors[id] = { errors: [{ type, message, details, extra_info: {} }], dependent_outputs: ['9'], class_type: classType };
    };
    for (const [id, node] of Object.entries(graph)) {
      const inputs = node.inputs;
      if (node.class_type === 'CheckpointLoaderSimple' && !this.#checkpoints.includes(asText(inputs['ckpt_name']))) {
        fail(
          id,
          node.class_type,
          'value_not_in_list',
          'Value not in list',
          `ckpt_name: '${asText(inputs['ckpt_name'])}' not in ${JSON.stringify(this.#checkpoints)}`,
        );
      }
      if (node.class_type === 'EmptyLatentImage') {
        for (const name of ['width', 'height']) {
          const value = inputs[name];
          if (typeof value !== 'number' || !Number.isInteger(value))
            fail(id, node.class_type, 'invalid_input_type', 'Failed to convert an input value to a INT value', `${name}, ${asText(value)}`);
          else if (value > MAX_RESOLUTION) fail(id, node.class_type, 'value_bigger_than_max', `Value ${value} bigger than max of ${MAX_RESOLUTION}`, `${name}`);
          else if (value < 16) fail(id, node.class_type, 'value_smaller_than_min', `Value ${value} smaller than min of 16`, `${name}`);
        }
      }
      if (node.class_type === 'KSampler' && (typeof inputs['seed'] !== 'number' || !Number.isInteger(inputs['seed']) || inputs['seed'] < 0)) {
        fail(id, node.class_type, 'invalid_input_type', 'Failed to convert an input value to a INT value', `seed, ${asText(inputs['seed'])}`);
      }
      if (node.class_type === 'CLIPTextEncode' && typeof inputs['text'] !== 'string') {
        fail(id, node.class_type, 'invalid_input_type', 'Failed to convert an input value to a STRING value', 'text');
      }
    }
    if (Object.keys(nodeErrors).length > 0) {
      return {
        status: 400,
        body: {
          error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
          node_errors: nodeErrors,
        },
      };
    }
    const clientId = objectField(body, 'client_id');
    const job: Job = {
      id: randomUUID(),
      clientId: typeof clientId === 'string' ? clientId : null,
      graph,
      outcome: this.#outcomes.shift() ?? 'success',
      interrupted: false,
      done: false,
    };
    this.#jobs.set(job.id, job);
    this.#number += 1;
    void this.#run(job);
    return { status: 200, body: { prompt_id: job.id, number: this.#number, node_errors: {} } };
  }

  // ---- the prompt's run ----

  async #run(job: Job): Promise<void> {
    const prompt_id = job.id;
    const messages: Array<[string, unknown]> = [];
    const event = (type: string, data: Record<string, unknown>): void => {
      const stamped = { ...data, timestamp: Date.now() };
      if (type.startsWith('execution_')) messages.push([type, stamped]);
      this.#sendJson(job.clientId, type, stamped);
    };
    await sleep(this.stepMs);
    event('execution_start', { prompt_id });
    event('execution_cached', { nodes: [], prompt_id });
    this.#sendJson(job.clientId, 'executing', { node: '3', display_node: '3', prompt_id });
    const { width, height, batch, seed } = latentOf(job.graph);
    let interrupted = false;
    for (let step = 1; step <= this.steps || job.outcome === 'hang'; step += 1) {
      await sleep(this.stepMs);
      if (job.interrupted || (job.outcome === 'interrupted' && step > 1)) {
        interrupted = true;
        break;
      }
      const value = Math.min(step, this.steps);
      this.#sendJson(job.clientId, 'progress', { value, max: this.steps, prompt_id, node: '3' });
      if (this.previews && step <= this.steps) this.#sendPreview(job.clientId, await preview(seed + step));
      if (this.socketMode === 'drop' && step === 1) this.#clients.get(job.clientId ?? '')?.terminate();
    }
    const status = (ok: boolean): unknown => ({ status_str: ok ? 'success' : 'error', completed: ok, messages });
    const outputs: Record<string, { images: ImageRef[] }> = {};
    if (interrupted) {
      event('execution_interrupted', { prompt_id, node_id: '3', node_type: 'KSampler', executed: ['4', '5', '6', '7'] });
    } else if (job.outcome === 'oom' || job.outcome === 'error' || job.outcome === 'nsfw') {
      const failure =
        job.outcome === 'oom'
          ? {
              node_id: '3',
              node_type: 'KSampler',
              exception_type: 'torch.OutOfMemoryError',
              exception_message: 'Allocation on device 0 would exceed allowed memory. (out of memory)',
            }
          : job.outcome === 'nsfw'
            ? { node_id: '10', node_type: 'Safety Checker', exception_type: 'Exception', exception_message: 'NSFW content detected; image blocked' }
            : {
                node_id: '8',
                node_type: 'VAEDecode',
                exception_type: 'RuntimeError',
                exception_message: 'Given groups=1, weight of size [512, 4, 3, 3], expected input to have 4 channels',
              };
      event('execution_error', {
        prompt_id,
        ...failure,
        executed: ['4', '5'],
        traceback: ['Traceback (most recent call last):'],
        current_inputs: {},
        current_outputs: [],
      });
    } else {
      if (job.outcome !== 'no_outputs') {
        for (const [id, node] of Object.entries(job.graph)) {
          if (!OUTPUT_NODES.has(node.class_type)) continue;
          const type = node.class_type === 'SaveImage' ? 'output' : 'temp';
          const images: ImageRef[] = [];
          for (let i = 0; i < batch; i += 1) {
            this.#fileCounter += 1;
            const filename = `${asText(node.inputs['filename_prefix'] ?? 'ComfyUI')}_${String(this.#fileCounter).padStart(5, '0')}_.png`;
            this.#files.set(`${type}//${filename}`, await fakePng(width, height, (seed + i) % 199));
            images.push({ filename, subfolder: '', type });
          }
          outputs[id] = { images };
          this.#sendJson(job.clientId, 'executed', { node: id, display_node: id, output: { images }, prompt_id });
        }
      }
      event('execution_success', { prompt_id });
    }
    job.done = true;
    this.#history.set(job.id, {
      prompt: [this.#number, job.id, job.graph, { client_id: job.clientId }, Object.keys(outputs)],
      outputs,
      status: status(!interrupted && (job.outcome === 'success' || job.outcome === 'no_outputs')),
      meta: {},
    });
    this.#sendJson(job.clientId, 'executing', { node: null, prompt_id });
  }

  // ---- the socket ----

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const authorized = this.#apiKey === null || req.headers['authorization'] === `Bearer ${this.#apiKey}`;
    if (url.pathname !== '/ws' || this.socketMode === 'refuse' || !authorized) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (client) => {
      const sid = url.searchParams.get('clientId') || randomUUID().replaceAll('-', '');
      this.socketClients.push(sid);
      this.#clients.set(sid, client);
      client.on('close', () => {
        if (this.#clients.get(sid) === client) this.#clients.delete(sid);
      });
      client.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.running } }, sid } }));
    });
  }

  #sendJson(clientId: string | null, type: string, data: unknown): void {
    const client = clientId === null ? undefined : this.#clients.get(clientId);
    if (client?.readyState === client?.OPEN) client?.send(JSON.stringify({ type, data }));
  }

  #sendPreview(clientId: string | null, jpeg: Buffer): void {
    const client = clientId === null ? undefined : this.#clients.get(clientId);
    if (client === undefined || client.readyState !== client.OPEN) return;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0); // BinaryEventTypes.PREVIEW_IMAGE
    header.writeUInt32BE(1, 4); // JPEG
    client.send(Buffer.concat([header, jpeg]));
  }
}

export async function startComfyFake(options: ComfyFakeOptions = {}): Promise<ComfyFake> {
  return new ComfyFake(options).start();
}

/** What the graph's EmptyLatentImage and KSampler say; the latent is width//8 by height//8 (nodes.py). */
function latentOf(graph: Graph): { width: number; height: number; batch: number; seed: number } {
  const latent = Object.values(graph).find((node) => node.class_type === 'EmptyLatentImage');
  const sampler = Object.values(graph).find((node) => node.class_type === 'KSampler');
  const num = (value: unknown, fallback: number): number => (typeof value === 'number' ? value : fallback);
  return {
    width: Math.floor(num(latent?.inputs['width'], 512) / 8) * 8,
    height: Math.floor(num(latent?.inputs['height'], 512) / 8) * 8,
    batch: num(latent?.inputs['batch_size'], 1),
    seed: num(sampler?.inputs['seed'], 0),
  };
}

/** A small JPEG, as ComfyUI's latent previews are (at most 512 px). */
async function preview(seed: number): Promise<Buffer> {
  return sharp(await fakePng(64, 64, seed % 199))
    .jpeg({ quality: 80 })
    .toBuffer();
}

function objectField(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return `${value}`;
  return JSON.stringify(value) ?? '';
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
