import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakePng } from './fake-images.ts';

/**
 * How the next generateContent answer ends (queued with `queueAnswers`; `image` when none is).
 * All of them are HTTP 200, as the Gemini API sends them (provider notes §3b, §11):
 * - `image`: one image (Gemini 3 models first think, with an interim image marked `thought`);
 * - `prompt_blocked`: `promptFeedback.blockReason: SAFETY` and no candidates;
 * - a refusing finish reason: a candidate with that `finishReason` and no image;
 * - `NO_IMAGE` / `IMAGE_OTHER`: a candidate with that finish reason and a line of text;
 * - `text_only`: finish reason STOP, the model talks instead of drawing;
 * - `two_images`: two images in one answer.
 */
export type GeminiOutcome =
  | 'image'
  | 'prompt_blocked'
  | 'SAFETY'
  | 'IMAGE_SAFETY'
  | 'PROHIBITED_CONTENT'
  | 'IMAGE_PROHIBITED_CONTENT'
  | 'RECITATION'
  | 'IMAGE_RECITATION'
  | 'NO_IMAGE'
  | 'IMAGE_OTHER'
  | 'text_only'
  | 'two_images';

const RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];

/** What each model takes (Google's image-generation guide): ratios, and `imageSize` tiers (none: the field is refused). */
const MODELS: Readonly<Record<string, { ratios: readonly string[]; tiers: readonly string[]; thinks: boolean }>> = {
  'gemini-2.5-flash-image': { ratios: RATIOS, tiers: [], thinks: false },
  'gemini-3-pro-image-preview': { ratios: RATIOS, tiers: ['1K', '2K', '4K'], thinks: true },
  'gemini-3.1-flash-image-preview': { ratios: [...RATIOS, '1:4', '4:1', '1:8', '8:1'], tiers: ['512', '1K', '2K', '4K'], thinks: true },
};

/** Pixels at 1K per ratio (Google's guide): 2.5 Flash Image, and the Gemini 3 models. */
const DIMENSIONS_25: Readonly<Record<string, readonly [number, number]>> = {
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
const DIMENSIONS_3: Readonly<Record<string, readonly [number, number]>> = {
  '1:1': [1024, 1024],
  '2:3': [848, 1264],
  '3:2': [1264, 848],
  '3:4': [896, 1200],
  '4:3': [1200, 896],
  '4:5': [928, 1152],
  '5:4': [1152, 928],
  '9:16': [768, 1376],
  '16:9': [1376, 768],
  '21:9': [1584, 672],
  '1:4': [512, 2064],
  '4:1': [2064, 512],
  '1:8': [352, 2928],
  '8:1': [2928, 352],
};
const TIER_SCALE: Readonly<Record<string, number>> = { '512': 0.5, '1K': 1, '2K': 2, '4K': 4 };

/** Fields of a GenerateContentRequest and of its GenerationConfig and ImageConfig (Gemini API reference). */
const REQUEST_FIELDS = new Set(['contents', 'generationConfig', 'safetySettings', 'systemInstruction', 'tools', 'toolConfig', 'cachedContent']);
const CONFIG_FIELDS = new Set([
  'responseModalities',
  'imageConfig',
  'seed',
  'temperature',
  'topP',
  'topK',
  'candidateCount',
  'maxOutputTokens',
  'stopSequences',
  'thinkingConfig',
]);
const IMAGE_CONFIG_FIELDS = new Set(['aspectRatio', 'imageSize']);

interface GeminiBody {
  contents?: Array<{ role?: unknown; parts?: Array<Record<string, unknown>> }>;
  generationConfig?: Record<string, unknown>;
}

/** One generateContent the fake answered: what it was asked and what it drew. */
export interface GeminiCall {
  readonly model: string;
  readonly aspectRatio: string | undefined;
  readonly imageSize: string | undefined;
  readonly inputImages: readonly Buffer[];
  readonly prompt: string;
  readonly width: number;
  readonly height: number;
}

/**
 * The Gemini API's `POST /v1beta/models/{model}:generateContent` as a fake on 127.0.0.1. It checks
 * what Google checks: the `x-goog-api-key` (missing: 403 PERMISSION_DENIED; wrong: 400
 * INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID, Google's answer to a bad key), unknown
 * fields (Google's 400 "Invalid JSON payload received. Unknown name"), ratios and `imageSize` the
 * model does not take, `candidateCount` above 1, images after the text, base64 that is no image.
 * It draws images at Google's documented pixel sizes. An edit's answer is the first input image,
 * stretched to the answer's size and inverted, so a test can tell kept pixels from redrawn ones.
 *
 * HTTP faults come from the FakeServer queue: `auth`, `status` (a Google RPC error body for the
 * status: 500 INTERNAL, 503 UNAVAILABLE …), `rate_limit` (429 RESOURCE_EXHAUSTED whose hint is a
 * `google.rpc.RetryInfo.retryDelay`, not a header), `moderation` (a blocked prompt, in a 200),
 * `truncate`, `invalid_json`, `bad_base64`, `stall`, `delay`.
 */
export class GeminiFake {
  readonly server: FakeServer;
  readonly calls: GeminiCall[] = [];
  readonly #apiKey: string;
  readonly #outcomes: GeminiOutcome[] = [];

  constructor(options: { apiKey?: string } = {}) {
    this.#apiKey = options.apiKey ?? 'gemini-upstream-test';
    this.server = new FakeServer((received, fault, res) => this.#handle(received, fault, res));
  }

  get url(): string {
    return this.server.url;
  }

  /** The API root a channel names: `{url}/v1beta`. */
  get baseUrl(): string {
    return `${this.server.url}/v1beta`;
  }

  queueAnswers(...outcomes: GeminiOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  reset(): void {
    this.server.reset();
    this.calls.length = 0;
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
    const key = received.headers['x-goog-api-key'];
    if (key === undefined) {
      return rpcError(
        res,
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    }
    if (key !== this.#apiKey || fault.kind === 'auth') {
      return rpcError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        },
      ]);
    }
    const match = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(received.path);
    if (received.method !== 'POST' || match === null) return rpcError(res, 404, 'NOT_FOUND', `Unknown path ${received.path}`);
    const model = decodeURIComponent(match[1] ?? '');
    const spec = MODELS[model];
    if (spec === undefined)
      return rpcError(res, 404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for generateContent.`);

    if (fault.kind === 'status') {
      return sendJson(
        res,
        fault.status,
        fault.body ??
          rpcBody(
            fault.status,
            fault.status === 503 ? 'UNAVAILABLE' : 'INTERNAL',
            fault.status === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred.',
          ),
        fault.headers,
      );
    }
    if (fault.kind === 'rate_limit') {
      const details: unknown[] = [
        {
          '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
          violations: [
            { quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' },
          ],
        },
      ];
      if (fault.retryAfterSeconds !== undefined)
        details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${fault.retryAfterSeconds}s` });
      return rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', details);
    }

    const body = (received.json ?? {}) as GeminiBody;
    const refused = checkRequest(body, spec);
    if (refused !== null) return rpcError(res, 400, 'INVALID_ARGUMENT', refused);
    const parts = body.contents?.[0]?.parts ?? [];
    const inputImages: Buffer[] = [];
    for (const part of parts) {
      const inline = part['inlineData'] as { mimeType?: unknown; data?: unknown } | undefined;
      if (inline === undefined) continue;
      const bytes = Buffer.from(String(inline.data), 'base64');
      const format = (
        await sharp(bytes)
          .metadata()
          .catch(() => ({ format: undefined }))
      ).format;
      if (format === undefined || `image/${format}` !== inline.mimeType)
        return rpcError(
          res,
          400,
          'INVALID_ARGUMENT',
          'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
        );
      inputImages.push(bytes);
    }
    const prompt = asText(parts.find((part) => typeof part['text'] === 'string')?.['text'] ?? '');
    const imageConfig = (body.generationConfig?.['imageConfig'] ?? {}) as { aspectRatio?: string; imageSize?: string };

    if (fault.kind === 'moderation') return sendJson(res, 200, blockedPrompt(model));
    const outcome = this.#outcomes.shift() ?? 'image';
    if (outcome !== 'image' && outcome !== 'two_images') return sendJson(res, 200, withoutImage(outcome, model));

    const ratio = imageConfig.aspectRatio ?? '1:1';
    const scale = TIER_SCALE[imageConfig.imageSize ?? '1K'] ?? 1;
    const [w1k, h1k] = (spec.thinks ? DIMENSIONS_3 : DIMENSIONS_25)[ratio] ?? [1024, 1024];
    const width = Math.round(w1k * scale);
    const height = Math.round(h1k * scale);
    this.calls.push({ model, aspectRatio: imageConfig.aspectRatio, imageSize: imageConfig.imageSize, inputImages, prompt, width, height });

    const seed = typeof body.generationConfig?.['seed'] === 'number' ? body.generationConfig['seed'] : this.calls.length;
    const first = inputImages[0];
    const drawn =
      first === undefined
        ? await fakePng(width, height, seed % 50)
        : await sharp(first).resize(width, height, { fit: 'fill' }).removeAlpha().negate().png().toBuffer();
    const answerParts: Array<Record<string, unknown>> = [];
    if (spec.thinks) {
      // Gemini 3 image models think first, sometimes drawing a draft: both are marked `thought`.
      answerParts.push({ text: '**Composing the scene**\n\nI am placing the subject first.', thought: true });
      answerParts.push({ inlineData: { mimeType: 'image/png', data: (await fakePng(256, 256, 49)).toString('base64') }, thought: true });
    }
    answerParts.push({ text: 'Here is the image you asked for.' });
    const data = fault.kind === 'bad_base64' ? '###not-base64###' : drawn.toString('base64');
    answerParts.push({ inlineData: { mimeType: 'image/png', data }, ...(spec.thinks ? { thoughtSignature: randomUUID() } : {}) });
    if (outcome === 'two_images') answerParts.push({ inlineData: { mimeType: 'image/png', data: (await fakePng(width, height, 7)).toString('base64') } });

    const promptTokens = 8 + inputImages.length * 258;
    const imageTokens = spec.thinks ? 1120 : 1290;
    const answer = {
      candidates: [{ content: { role: 'model', parts: answerParts }, finishReason: 'STOP', index: 0 }],
      usageMetadata: {
        promptTokenCount: promptTokens,
        candidatesTokenCount: imageTokens + 10,
        totalTokenCount: promptTokens + imageTokens + 10 + (spec.thinks ? 150 : 0),
        promptTokensDetails: [
          { modality: 'TEXT', tokenCount: 8 },
          ...(inputImages.length > 0 ? [{ modality: 'IMAGE', tokenCount: inputImages.length * 258 }] : []),
        ],
        candidatesTokensDetails: [
          { modality: 'IMAGE', tokenCount: imageTokens },
          { modality: 'TEXT', tokenCount: 10 },
        ],
        ...(spec.thinks ? { thoughtsTokenCount: 150 } : {}),
      },
      modelVersion: model,
      responseId: randomUUID(),
    };
    if (fault.kind === 'truncate') return sendTruncated(res, answer);
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"candidates": [{"content": {"parts": [{"inlineData": ');
      return;
    }
    sendJson(res, 200, answer);
  }
}

export async function startGeminiFake(options: { apiKey?: string } = {}): Promise<GeminiFake> {
  return new GeminiFake(options).start();
}

/** Why Google would refuse this body with a 400, or null. */
function checkRequest(body: GeminiBody, spec: { ratios: readonly string[]; tiers: readonly string[] }): string | null {
  const unknown = Object.keys(body).find((name) => !REQUEST_FIELDS.has(name));
  if (unknown !== undefined) return `Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`;
  const config = body.generationConfig ?? {};
  const unknownConfig = Object.keys(config).find((name) => !CONFIG_FIELDS.has(name));
  if (unknownConfig !== undefined) return `Invalid JSON payload received. Unknown name "${unknownConfig}" at 'generation_config': Cannot find field.`;
  const imageConfig = (config['imageConfig'] ?? {}) as Record<string, unknown>;
  const unknownImage = Object.keys(imageConfig).find((name) => !IMAGE_CONFIG_FIELDS.has(name));
  if (unknownImage !== undefined)
    return `Invalid JSON payload received. Unknown name "${unknownImage}" at 'generation_config.image_config': Cannot find field.`;
  const modalities = config['responseModalities'];
  if (!Array.isArray(modalities) || !modalities.includes('IMAGE')) return 'The model needs responseModalities to include IMAGE.';
  if (config['candidateCount'] !== undefined && config['candidateCount'] !== 1) return 'Multiple candidates is not enabled for this model.';
  const ratio = imageConfig['aspectRatio'];
  if (ratio !== undefined && !spec.ratios.includes(asText(ratio))) return `Unsupported aspect ratio: ${asText(ratio)}.`;
  const size = imageConfig['imageSize'];
  if (size !== undefined && !spec.tiers.includes(asText(size))) return `Unsupported image size: ${asText(size)}.`;
  const contents = body.contents ?? [];
  if (contents.length !== 1 || contents[0]?.role !== 'user') return 'contents must hold one user turn.';
  const parts = contents[0]?.parts ?? [];
  const textAt = parts.findIndex((part) => typeof part['text'] === 'string');
  if (textAt === -1) return 'contents.parts must contain text.';
  if (parts.slice(textAt + 1).some((part) => part['inlineData'] !== undefined))
    return "this fake wants the images before the text, as Google's editing examples put them.";
  return null;
}

function blockedPrompt(model: string): unknown {
  return {
    promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'HIGH' }] },
    usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
    modelVersion: model,
    responseId: randomUUID(),
  };
}

function withoutImage(outcome: Exclude<GeminiOutcome, 'image' | 'two_images'>, model: string): unknown {
  if (outcome === 'prompt_blocked') return blockedPrompt(model);
  const parts =
    outcome === 'text_only'
      ? [{ text: 'I can help with that! What style would you like the picture in?' }]
      : outcome === 'NO_IMAGE' || outcome === 'IMAGE_OTHER'
        ? [{ text: 'I was unable to generate the image.' }]
        : undefined;
  const finishMessage = outcome.startsWith('IMAGE_')
    ? "Unable to show the generated image. The image was filtered out because it violated Google's Generative AI Prohibited Use policy."
    : undefined;
  return {
    candidates: [
      {
        ...(parts === undefined ? {} : { content: { role: 'model', parts } }),
        finishReason: outcome === 'text_only' ? 'STOP' : outcome,
        ...(finishMessage === undefined || outcome === 'IMAGE_OTHER' ? {} : { finishMessage }),
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: 8, candidatesTokenCount: parts === undefined ? 0 : 12, totalTokenCount: 20 },
    modelVersion: model,
    responseId: randomUUID(),
  };
}

function rpcBody(code: number, status: string, message: string, details?: unknown[]): unknown {
  return { error: { code, message, status, ...(details === undefined ? {} : { details }) } };
}

function rpcError(res: ServerResponse, code: number, status: string, message: string, details?: unknown[]): void {
  sendJson(res, code, rpcBody(code, status, message, details));
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
