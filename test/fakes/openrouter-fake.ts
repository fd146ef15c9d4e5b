import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next completions of the fake end (queued with `queueAnswers`, `image` when none is):
 * - `image`: one picture as a `data:image/png;base64,…` URL, with a line of text;
 * - `link`: the picture as an http link the fake serves (some providers answer with links);
 * - `content_filter`: HTTP 200, `finish_reason: "content_filter"`, no picture;
 * - `image_safety`: HTTP 200, `finish_reason: "stop"`, Gemini's `native_finish_reason:
 *   "IMAGE_SAFETY"`, no picture;
 * - `text_only`: HTTP 200 with text and no picture, for no stated reason;
 * - `provider_error`: HTTP 200 whose body is an error (`{"error": {code: 502, …}}`), as OpenRouter
 *   sends errors that happen once the model has started;
 * - `two_images`: two pictures in one message.
 */
export type OpenRouterAnswer = 'image' | 'link' | 'content_filter' | 'image_safety' | 'text_only' | 'provider_error' | 'two_images';

const GEMINI_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];

/**
 * Gemini image models as an operator would define them in IMAGEGATE_MODELS (the built-in Google
 * rows are another provider's file): aspect ratios, one tier for 2.5 Flash Image, three for 3 Pro.
 */
export const GEMINI_TEST_MODELS = [
  {
    id: 'gemini-2.5-flash-image',
    like: 'gpt-image-1',
    ownedBy: 'google',
    maxN: 4,
    size: { kind: 'aspect', ratios: GEMINI_RATIOS, tiers: { '1K': 1024 }, defaultRatio: '1:1', defaultTier: '1K', multipleOf: 16 },
    qualities: ['standard', 'auto'],
    defaultQuality: 'standard',
    backgrounds: [],
    takesModeration: false,
    streaming: true,
    openaiWire: [],
    responseFields: ['output_format', 'size'],
    tokens: null,
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.039 } } },
    priceSource: 'test: OpenRouter price of google/gemini-2.5-flash-image',
  },
  {
    id: 'gemini-3-pro-image-preview',
    like: 'gemini-2.5-flash-image',
    size: { kind: 'aspect', ratios: GEMINI_RATIOS, tiers: { '1K': 1024, '2K': 2048, '4K': 4096 }, defaultRatio: '1:1', defaultTier: '1K', multipleOf: 16 },
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.134 } } },
  },
];

/** Gemini's pixels per ratio at 1K, as OpenRouter's image guide lists them; 2K and 4K scale them. */
const GEMINI_SIZES: Readonly<Record<string, readonly [number, number]>> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};
const SCALE: Readonly<Record<string, number>> = { '1K': 1, '2K': 2, '4K': 4 };

/** Fields of a chat completion request the fake accepts; image-API fields are refused. */
const KNOWN_FIELDS = new Set(['model', 'messages', 'modalities', 'stream', 'image_config', 'seed', 'user']);

/**
 * OpenRouter's chat completions for image models as a fake on 127.0.0.1 (base URL
 * `${url}/api/v1`): `POST /api/v1/chat/completions` with a Bearer key, `modalities` that include
 * `image`, and `image_config.aspect_ratio` from Gemini's list; it refuses images-API fields (`n`,
 * `size`, `response_format`) with a 400 and answers pictures in `choices[0].message.images[]`.
 *
 * Faults (FakeServer queue): `moderation` is the 403 moderation error with
 * `error.metadata.reasons`; `auth` a 401; `rate_limit` a 429 with Retry-After; `status` any
 * answer (402 for credits); `truncate`, `invalid_json`, `bad_base64`, `stall`, `delay`.
 */
export class OpenRouterFake {
  readonly server: FakeServer;
  readonly #apiKey: string;
  readonly #answers: OpenRouterAnswer[] = [];
  readonly #stored = new Map<string, Buffer>();

  constructor(options: { apiKey?: string } = {}) {
    this.#apiKey = options.apiKey ?? 'sk-or-v1-upstream-test';
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get url(): string {
    return this.server.url;
  }

  get baseUrl(): string {
    return `${this.server.url}/api/v1`;
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

  queueAnswers(...answers: OpenRouterAnswer[]): this {
    this.#answers.push(...answers);
    return this;
  }

  /** The JSON bodies of the completions asked for, in order. */
  bodies(): Array<Record<string, unknown>> {
    return this.server.received.filter((r) => r.method === 'POST').map((r) => (r.json ?? {}) as Record<string, unknown>);
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    if (received.method === 'GET' && received.path.startsWith('/files/')) return this.#serve(received, res);
    if (received.headers['authorization'] !== `Bearer ${this.#apiKey}` || fault.kind === 'auth') {
      return sendJson(res, 401, { error: { code: 401, message: 'No auth credentials found' } });
    }
    if (received.method !== 'POST' || received.path !== '/api/v1/chat/completions') {
      return sendJson(res, 404, { error: { code: 404, message: `Not found: ${received.path}` } });
    }
    if (fault.kind === 'status')
      return sendJson(res, fault.status, fault.body ?? { error: { code: fault.status, message: 'Internal Server Error' } }, fault.headers);
    if (fault.kind === 'rate_limit') {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      return sendJson(
        res,
        429,
        { error: { code: 429, message: 'Rate limit exceeded: too many requests', metadata: { provider_name: 'Google AI Studio' } } },
        headers,
      );
    }
    const body = (received.json ?? {}) as Record<string, unknown>;
    const refused = check(body);
    if (refused !== null) return sendJson(res, 400, { error: { code: 400, message: refused } });
    const model = asText(body['model']);
    if (fault.kind === 'moderation') {
      return sendJson(res, 403, {
        error: {
          code: 403,
          message: `${model} requires moderation on Google AI Studio. Your input was flagged for "violence/graphic". No credits were charged.`,
          metadata: {
            reasons: ['violence/graphic'],
            flagged_input: String(promptOf(body)).slice(0, 100),
            provider_name: 'Google AI Studio',
            model_slug: model,
          },
        },
      });
    }
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "gen-1", "choices": [ {"message": ');
      return;
    }

    const answer = this.#answers.shift() ?? 'image';
    const config = (body['image_config'] ?? {}) as { aspect_ratio?: string; image_size?: string };
    const [w, h] = GEMINI_SIZES[config.aspect_ratio ?? '1:1'] ?? [1024, 1024];
    const scale = SCALE[config.image_size ?? '1K'] ?? 1;
    const pictures = answer === 'two_images' ? 2 : ['image', 'link'].includes(answer) ? 1 : 0;
    const images = [];
    for (let i = 0; i < pictures; i += 1) {
      const bytes = await fakeImage(w * scale, h * scale, 'png', i);
      const url =
        fault.kind === 'bad_base64'
          ? 'data:image/png;base64,!!!not base64!!!'
          : answer === 'link'
            ? this.#store(bytes)
            : `data:image/png;base64,${bytes.toString('base64')}`;
      images.push({ type: 'image_url', image_url: { url }, index: i });
    }
    const ended: Record<OpenRouterAnswer, { finish: string | null; native: string | null; content: string | null }> = {
      image: { finish: 'stop', native: 'STOP', content: 'Here is your image.' },
      link: { finish: 'stop', native: 'STOP', content: '' },
      two_images: { finish: 'stop', native: 'STOP', content: 'Two takes.' },
      content_filter: { finish: 'content_filter', native: 'PROHIBITED_CONTENT', content: null },
      image_safety: { finish: 'stop', native: 'IMAGE_SAFETY', content: null },
      text_only: { finish: 'stop', native: 'STOP', content: 'I will draw a calm sea for you.' },
      provider_error: { finish: null, native: null, content: null },
    };
    const end = ended[answer];
    const reply =
      answer === 'provider_error'
        ? {
            id: `gen-${randomUUID()}`,
            error: { code: 502, message: 'Provider returned error', metadata: { provider_name: 'Google AI Studio', raw: 'upstream connect error' } },
          }
        : {
            id: `gen-${randomUUID()}`,
            provider: 'Google AI Studio',
            model,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            choices: [
              {
                logprobs: null,
                finish_reason: end.finish,
                native_finish_reason: end.native,
                index: 0,
                message: { role: 'assistant', content: end.content, refusal: null, reasoning: null, ...(images.length > 0 ? { images } : {}) },
              },
            ],
            usage: { prompt_tokens: 9, completion_tokens: 1290, total_tokens: 1299, cost: 0.0387 },
          };
    if (fault.kind === 'truncate') return sendTruncated(res, reply);
    sendJson(res, 200, reply);
  }

  #store(bytes: Buffer): string {
    const path = `/files/${randomUUID()}.png`;
    this.#stored.set(path, bytes);
    return `${this.url}${path}`;
  }

  #serve(received: Received, res: ServerResponse): void {
    const bytes = this.#stored.get(received.path);
    if (bytes === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length }).end(bytes);
  }
}

/** Why OpenRouter would refuse this request body, or null. */
function check(body: Record<string, unknown>): string | null {
  for (const field of Object.keys(body)) if (!KNOWN_FIELDS.has(field)) return `Unrecognized request argument: ${field}`;
  if (typeof body['model'] !== 'string' || !body['model'].includes('/')) return 'model must be an OpenRouter id such as google/gemini-2.5-flash-image';
  const modalities = body['modalities'];
  if (!Array.isArray(modalities) || !modalities.includes('image')) return 'This model only outputs images: set modalities to include "image"';
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return 'messages is required';
  if (promptOf(body) === '') return 'the user message needs text';
  const config = body['image_config'] as { aspect_ratio?: unknown; image_size?: unknown } | undefined;
  if (config?.aspect_ratio !== undefined && GEMINI_SIZES[asText(config.aspect_ratio)] === undefined)
    return `Unsupported aspect_ratio ${asText(config.aspect_ratio)}`;
  if (config?.image_size !== undefined && SCALE[asText(config.image_size)] === undefined) return `Unsupported image_size ${asText(config.image_size)}`;
  return null;
}

function promptOf(body: Record<string, unknown>): string {
  const first = (body['messages'] as Array<{ content?: unknown }> | undefined)?.[0]?.content;
  if (typeof first === 'string') return first;
  if (Array.isArray(first)) {
    const text = (first as Array<{ type?: unknown; text?: unknown }>).find((part) => part.type === 'text');
    return typeof text?.text === 'string' ? text.text : '';
  }
  return '';
}

export async function startOpenRouterFake(options: { apiKey?: string } = {}): Promise<OpenRouterFake> {
  return new OpenRouterFake(options).start();
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
