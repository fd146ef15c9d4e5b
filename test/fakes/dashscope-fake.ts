import { createHmac, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakePng } from './fake-images.ts';

/**
 * How the next task created on the fake ends (queued with `queueTasks`, `succeed` when none is):
 * - `succeed`: SUCCEEDED with one result URL;
 * - `inspection_failed` / `internal_error`: FAILED with DataInspectionFailed / InternalError;
 * - `canceled`: CANCELED;
 * - `unknown`: the fake forgets the task, so polls see UNKNOWN (DashScope's expired/lost task);
 * - `result_inspection_failed`: SUCCEEDED, but the one result is `{code: DataInspectionFailed}`;
 * - `expired_results`: SUCCEEDED with a result URL that has already expired (OSS answers 403).
 */
export type TaskOutcome = 'succeed' | 'inspection_failed' | 'internal_error' | 'canceled' | 'unknown' | 'result_inspection_failed' | 'expired_results';

export interface DashScopeFakeOptions {
  readonly apiKey?: string;
  /** Polls a task answers before it ends: PENDING first, RUNNING after, terminal on this one. */
  readonly pollsUntilDone?: number;
  /** Lifetime of a result URL (DashScope's are 24 h; tests want it short). */
  readonly resultTtlMs?: number;
}

/** The async task API's list, plus the 4:3 pair older docs give (provider notes §2, "Sizes"). */
const FIXED_SIZES = ['1664*928', '1472*1104', '1328*1328', '1104*1472', '928*1664', '1472*1140', '1140*1472'];
const FREE_SIZE_MODEL = /^qwen-image-[2-9]\./;

const SUBMIT_PATH = '/api/v1/services/aigc/text2image/image-synthesis';
const TASK_PATH = '/api/v1/tasks/';
const MULTIMODAL_PATH = '/api/v1/services/aigc/multimodal-generation/generation';

interface Task {
  readonly id: string;
  readonly outcome: TaskOutcome;
  readonly prompt: string;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  polls: number;
  results?: Array<Record<string, unknown>>;
}

interface StoredResult {
  readonly bytes: Buffer;
  readonly expiresAtMs: number;
  readonly signature: string;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * DashScope's native image APIs as a fake on 127.0.0.1 (provider notes §2, §10.6): the async task
 * API (submit needs `X-DashScope-Async: enable`, a task goes PENDING → RUNNING → its outcome over
 * `pollsUntilDone` polls, unknown ids are UNKNOWN), the sync multimodal-generation API, and the
 * signed result links themselves, which answer 403 once expired like OSS does. It checks what
 * the real API checks: the Bearer key, the size list ("must strictly match"), n = 1 for qwen-image.
 *
 * HTTP faults come from the FakeServer queue and hit whichever request takes them (submit, poll,
 * result download): `auth`, `status` (with `status: 200` and a `{code, message}` body for the
 * error-in-a-200 quirk), `rate_limit` (429 Throttling.RateQuota), `moderation` (400
 * DataInspectionFailed), `truncate`, `invalid_json`, `stall`, `delay`.
 */
export class DashScopeFake {
  readonly server: FakeServer;
  /** performance.now() of every task query that reached the handler, to check the 20/s limit. */
  readonly pollTimesMs: number[] = [];
  pollsUntilDone: number;
  resultTtlMs: number;
  readonly #apiKey: string;
  readonly #tasks = new Map<string, Task>();
  readonly #outcomes: TaskOutcome[] = [];
  readonly #results = new Map<string, StoredResult>();
  readonly #secret = randomUUID();

  constructor(options: DashScopeFakeOptions = {}) {
    this.#apiKey = options.apiKey ?? 'sk-upstream-test';
    this.pollsUntilDone = options.pollsUntilDone ?? 3;
    this.resultTtlMs = options.resultTtlMs ?? 60_000;
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get url(): string {
    return this.server.url;
  }

  /** Sets how the next tasks end, in creation order. */
  queueTasks(...outcomes: TaskOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  /** Tasks created so far (a test reads what the adapter asked for). */
  get taskCount(): number {
    return this.#tasks.size;
  }

  reset(): void {
    this.server.reset();
    this.pollTimesMs.length = 0;
    this.#outcomes.length = 0;
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.method === 'GET' && received.path.startsWith('/results/')) return this.#serveResult(received, fault, res);
    const requestId = randomUUID();
    if (received.method === 'GET' && received.path.startsWith(TASK_PATH)) this.pollTimesMs.push(performance.now());

    if (received.headers['authorization'] !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return sendJson(res, 401, { request_id: requestId, code: 'InvalidApiKey', message: 'Invalid API-key provided.' });
    }
    if (fault.kind === 'status') {
      const body = fault.body ?? {
        request_id: requestId,
        code: 'InternalError',
        message: 'An internal error has occured, please try again later or contact service support.',
      };
      return sendJson(res, fault.status, body, fault.headers);
    }
    if (fault.kind === 'rate_limit') {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
      return sendJson(
        res,
        429,
        { request_id: requestId, code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' },
        headers,
      );
    }
    if (fault.kind === 'moderation') {
      return sendJson(res, 400, { request_id: requestId, code: 'DataInspectionFailed', message: 'Input data may contain inappropriate content.' });
    }

    let reply: Reply;
    if (received.method === 'POST' && received.path === SUBMIT_PATH) reply = this.#submit(received);
    else if (received.method === 'GET' && received.path.startsWith(TASK_PATH))
      reply = await this.#poll(decodeURIComponent(received.path.slice(TASK_PATH.length)));
    else if (received.method === 'POST' && received.path === MULTIMODAL_PATH) reply = await this.#multimodal(received);
    else reply = { status: 404, body: { code: 'InvalidURL', message: `Invalid URL provided in your request: ${received.path}` } };
    const body = { request_id: requestId, ...(reply.body as Record<string, unknown>) };

    if (reply.status === 200 && fault.kind === 'truncate') return sendTruncated(res, body);
    if (reply.status === 200 && fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"request_id": "x", "output": {"task_status": ');
      return;
    }
    sendJson(res, reply.status, body);
  }

  #submit(received: Received): Reply {
    if (received.headers['x-dashscope-async'] !== 'enable') {
      return invalid(403, 'AccessDenied', 'current user api does not support synchronous calls');
    }
    const body = (received.json ?? {}) as { model?: unknown; input?: { prompt?: unknown }; parameters?: Record<string, unknown> };
    if (typeof body.model !== 'string' || !/^(qwen-image|wan)/.test(body.model)) return invalid(400, 'InvalidParameter', 'Model not exist.');
    const prompt = body.input?.prompt;
    if (typeof prompt !== 'string' || prompt === '') return invalid(400, 'InvalidParameter', 'Field required: input.prompt');
    const parameters = body.parameters ?? {};
    const size = textOr(parameters['size'], '1664*928');
    if (!FIXED_SIZES.includes(size)) {
      return invalid(400, 'InvalidParameter', `The size is not match the allowed size ['1664*928', '1472*1104', '1328*1328', '1104*1472', '928*1664']`);
    }
    if ((parameters['n'] ?? 1) !== 1) return invalid(400, 'InvalidParameter', 'n should be 1 for this model.');
    const [width = 0, height = 0] = size.split('*').map(Number);
    const seed = typeof parameters['seed'] === 'number' ? parameters['seed'] : 0;
    const task: Task = { id: randomUUID(), outcome: this.#outcomes.shift() ?? 'succeed', prompt, width, height, seed, polls: 0 };
    this.#tasks.set(task.id, task);
    return { status: 200, body: { output: { task_id: task.id, task_status: 'PENDING' } } };
  }

  async #poll(taskId: string): Promise<Reply> {
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.outcome === 'unknown') return ok({ task_id: taskId, task_status: 'UNKNOWN' });
    task.polls += 1;
    const times = { submit_time: '2026-08-01 12:00:00.000', scheduled_time: '2026-08-01 12:00:00.100' };
    if (task.polls < this.pollsUntilDone) {
      return ok({ task_id: task.id, task_status: task.polls === 1 ? 'PENDING' : 'RUNNING', ...times });
    }
    const ended = { task_id: task.id, ...times, end_time: '2026-08-01 12:00:12.000' };
    switch (task.outcome) {
      case 'inspection_failed':
        return ok({ ...ended, task_status: 'FAILED', code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' });
      case 'internal_error':
        return ok({
          ...ended,
          task_status: 'FAILED',
          code: 'InternalError',
          message: 'An internal error has occured, please try again later or contact service support.',
        });
      case 'canceled':
        return ok({ ...ended, task_status: 'CANCELED' });
      case 'result_inspection_failed':
        return ok({
          ...ended,
          task_status: 'SUCCEEDED',
          results: [{ code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }],
          task_metrics: { TOTAL: 1, SUCCEEDED: 0, FAILED: 1 },
        });
      default: {
        task.results ??= [
          {
            orig_prompt: task.prompt,
            actual_prompt: `${task.prompt}, highly detailed, soft light`,
            url: await this.#storeResult(task.width, task.height, task.seed, task.outcome === 'expired_results'),
          },
        ];
        return {
          status: 200,
          body: {
            output: { ...ended, task_status: 'SUCCEEDED', results: task.results, task_metrics: { TOTAL: 1, SUCCEEDED: 1, FAILED: 0 } },
            usage: { image_count: 1 },
          },
        };
      }
    }
  }

  async #multimodal(received: Received): Promise<Reply> {
    if (received.headers['x-dashscope-async'] === 'enable') {
      return invalid(403, 'AccessDenied', 'current user api does not support asynchronous calls');
    }
    const body = (received.json ?? {}) as {
      model?: unknown;
      input?: { messages?: Array<{ role?: unknown; content?: Array<{ text?: unknown }> }> };
      parameters?: Record<string, unknown>;
    };
    if (typeof body.model !== 'string' || !body.model.startsWith('qwen-image')) return invalid(400, 'InvalidParameter', 'Model not exist.');
    const prompt = body.input?.messages?.[0]?.content?.find((part) => typeof part.text === 'string')?.text;
    if (typeof prompt !== 'string' || prompt === '') return invalid(400, 'InvalidParameter', 'Field required: input.messages[0].content.text');
    const parameters = body.parameters ?? {};
    const free = FREE_SIZE_MODEL.test(body.model);
    const size = textOr(parameters['size'], '1328*1328');
    const [width = 0, height = 0] = size.split('*').map(Number);
    const fits = free
      ? Math.min(width, height) >= 512 && Math.max(width, height) <= 2048 && width * height >= 512 * 512 && width * height <= 2048 * 2048
      : FIXED_SIZES.includes(size);
    if (!fits) return invalid(400, 'InvalidParameter', `Size ${size} not supported.`);
    const n = parameters['n'] ?? 1;
    if (typeof n !== 'number' || n < 1 || n > (free ? 6 : 1)) return invalid(400, 'InvalidParameter', `n ${JSON.stringify(n)} out of range.`);
    const seed = typeof parameters['seed'] === 'number' ? parameters['seed'] : 0;
    const choices = [];
    for (let i = 0; i < n; i += 1) {
      const content: Array<Record<string, string>> = [{ image: await this.#storeResult(width, height, seed + i, false) }];
      if (parameters['prompt_extend'] !== false) content.push({ text: `${prompt}, highly detailed, soft light` });
      choices.push({ finish_reason: 'stop', message: { role: 'assistant', content } });
    }
    return {
      status: 200,
      body: { output: { choices, task_metric: { TOTAL: n, SUCCEEDED: n, FAILED: 0 } }, usage: { width, height, image_count: n } },
    };
  }

  /** Stores a PNG and returns its signed, expiring link, shaped like DashScope's OSS URLs. */
  async #storeResult(width: number, height: number, seed: number, expired: boolean): Promise<string> {
    const id = randomUUID();
    const expiresAtMs = expired ? Date.now() - 1000 : Date.now() + this.resultTtlMs;
    const signature = createHmac('sha256', this.#secret).update(`${id}:${expiresAtMs}`).digest('base64url');
    this.#results.set(id, { bytes: await fakePng(width, height, seed % 50), expiresAtMs, signature });
    return `${this.url}/results/${id}.png?Expires=${Math.floor(expiresAtMs / 1000)}&Signature=${encodeURIComponent(signature)}`;
  }

  #serveResult(received: Received, fault: Fault, res: ServerResponse): void {
    if (fault.kind === 'status') {
      res.writeHead(fault.status).end();
      return;
    }
    const id = received.path.slice('/results/'.length).replace(/\.png$/, '');
    const stored = this.#results.get(id);
    if (stored === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    if (received.query.get('Signature') !== stored.signature || Date.now() > stored.expiresAtMs) {
      // What OSS answers to a presigned link past its Expires (or with a wrong signature).
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': stored.bytes.length }).end(stored.bytes);
  }
}

export async function startDashScopeFake(options: DashScopeFakeOptions = {}): Promise<DashScopeFake> {
  return new DashScopeFake(options).start();
}

function ok(output: Record<string, unknown>): Reply {
  return { status: 200, body: { output } };
}

function invalid(status: number, code: string, message: string): Reply {
  return { status, body: { code, message } };
}

/** A request field as text, or the default when it is absent or not a string. */
function textOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
