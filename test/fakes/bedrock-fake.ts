import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { FakeServer, type Fault, type Received, sendJson, sendTruncated } from './fake-server.ts';
import { fakeImage } from './fake-images.ts';

/**
 * How the next generation that passes every check ends (queued with `queueOutcomes`; `success`
 * when none is). Stability: `filter_output` is finish_reasons ["Filter reason: output image"] in
 * an HTTP 200, `inference_error` ["Inference error"]. Nova/Titan: `inband_error` is an HTTP 200
 * whose `error` says the moderation removed images, `output_blocked` the 400 ValidationException
 * "The generated image has been blocked by our content filters.", `fewer_images` one image less
 * than asked with no error.
 */
export type BedrockOutcome = 'success' | 'filter_output' | 'inference_error' | 'inband_error' | 'output_blocked' | 'fewer_images';

/** What the SigV4 Authorization header of a request said (after the fake checked its signature). */
export interface SignedBy {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly sessionToken: string | undefined;
}

/** One InvokeModel call the fake took: the model id (decoded), the JSON body and who signed it. */
export interface Invocation {
  readonly modelId: string;
  readonly body: Record<string, unknown>;
  readonly signedBy: SignedBy;
  readonly headers: Received['headers'];
}

const STABILITY_MODELS = ['stability.sd3-5-large-v1:0', 'stability.stable-image-ultra-v1:1', 'stability.stable-image-core-v1:1'];
const NOVA = 'amazon.nova-canvas-v1:0';
const TITAN = 'amazon.titan-image-generator-v2:0';
const RATIOS = ['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'];
/** What Stability draws at 1 megapixel per ratio (multiples of 64). */
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
const TITAN_SIZES = new Set([
  '1024x1024',
  '768x768',
  '512x512',
  '768x1152',
  '384x576',
  '1152x768',
  '576x384',
  '768x1280',
  '384x640',
  '1280x768',
  '640x384',
  '896x1152',
  '448x576',
  '1152x896',
  '576x448',
  '768x1408',
  '384x704',
  '1408x768',
  '704x384',
  '640x1408',
  '320x704',
  '1408x640',
  '704x320',
  '1152x640',
  '1173x640',
]);
const BLOCKED_REQUEST = 'This request has been blocked by our content filters.';

/**
 * Amazon Bedrock Runtime's InvokeModel as a fake on 127.0.0.1: `POST /model/{modelId}/invoke`
 * (the model id percent-encoded, as the SDK sends it) with a SigV4 `Authorization` header and
 * `x-amz-date`, which the fake verifies in full against the credentials it was given (canonical
 * request, string to sign, signing key; a mismatch is Bedrock's 403 InvalidSignatureException).
 * It checks each model's body as Bedrock documents it, refusing fields a model does not take
 * ("extraneous key [x] is not permitted"), and answers in the real shapes: Stability
 * `{seeds, finish_reasons, images}`, Nova Canvas and Titan `{images, error}`. Errors are
 * restJson1: `x-amzn-ErrorType` and `{"message"}`.
 *
 * Faults from the FakeServer queue: `auth` (403 AccessDeniedException), `moderation` (the content
 * filter's refusal in each family's shape), `status` (500 InternalServerException, 503
 * ServiceUnavailableException, or the given body and headers as they are), `rate_limit` (429
 * ThrottlingException, Retry-After only when the fault names one), `truncate`, `invalid_json`,
 * `bad_base64`, `stall`, `delay`.
 */
export class BedrockFake {
  readonly server: FakeServer;
  readonly invocations: Invocation[] = [];
  readonly #accessKeyId: string;
  readonly #secretAccessKey: string;
  readonly #outcomes: BedrockOutcome[] = [];
  readonly #images = new Map<string, Promise<Buffer>>();

  constructor(options: { accessKeyId?: string; secretAccessKey?: string } = {}) {
    this.#accessKeyId = options.accessKeyId ?? 'AKIAFAKEBEDROCK12345';
    this.#secretAccessKey = options.secretAccessKey ?? 'fake-secret-access-key/0123456789abcdef';
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
    this.invocations.length = 0;
    this.#outcomes.length = 0;
  }

  queueOutcomes(...outcomes: BedrockOutcome[]): this {
    this.#outcomes.push(...outcomes);
    return this;
  }

  invocation(index = 0): Invocation {
    const found = this.invocations[index];
    if (found === undefined) throw new Error(`no invocation ${index}`);
    return found;
  }

  async #handle(received: Received, fault: Fault, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const error = (status: number, type: string, message: string, headers: Record<string, string> = {}): void =>
      sendJson(
        res,
        status,
        { message },
        { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': requestId, ...headers },
      );

    const signed = this.#verifySignature(received);
    if (typeof signed === 'string') {
      return error(403, signed.startsWith('The security token') ? 'UnrecognizedClientException' : 'InvalidSignatureException', signed);
    }
    const match = /^\/model\/([^/]+)\/invoke$/.exec(received.path);
    if (received.method !== 'POST' || match === null) return error(404, 'UnknownOperationException', `${received.method} ${received.path}`);
    const modelId = decodeURIComponent(match[1] ?? '');
    if (received.headers['content-type'] !== 'application/json') return error(400, 'ValidationException', 'The content type must be application/json.');
    if (!isRecord(received.json)) return error(400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
    const body = received.json;
    this.invocations.push({ modelId, body, signedBy: signed, headers: received.headers });
    if (fault.kind === 'auth') return error(403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.");
    if (fault.kind === 'rate_limit') {
      const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return error(429, 'ThrottlingException', 'Too many requests, please wait before trying again.', headers);
    }
    if (fault.kind === 'status') {
      if (fault.body !== undefined) return sendJson(res, fault.status, fault.body, fault.headers);
      if (fault.status === 503) return error(503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.');
      return error(fault.status, 'InternalServerException', 'The server encountered an internal error.');
    }

    let answer: Record<string, unknown>;
    if (STABILITY_MODELS.includes(modelId)) {
      const checked = await this.#stability(modelId, body, fault);
      if (typeof checked === 'string') return error(400, 'ValidationException', checked);
      answer = checked;
    } else if (modelId === NOVA || modelId === TITAN) {
      const checked = await this.#amazon(modelId, body, fault);
      if (typeof checked === 'string') return error(400, 'ValidationException', checked);
      answer = checked;
    } else {
      return error(400, 'ValidationException', 'The provided model identifier is invalid.');
    }

    if (fault.kind === 'truncate') return sendTruncated(res, answer);
    if (fault.kind === 'invalid_json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"images": ["iVBORw0KGgo"], "finish_reasons": ');
      return;
    }
    sendJson(res, 200, answer, { 'x-amzn-requestid': requestId, 'x-amzn-bedrock-invocation-latency': '1234' });
  }

  /** Stability on Bedrock: the v2beta fields as JSON, one image, `finish_reasons` per image. */
  async #stability(modelId: string, body: Record<string, unknown>, fault: Fault): Promise<Record<string, unknown> | string> {
    const sd3 = modelId.includes('sd3');
    const allowed = ['prompt', 'aspect_ratio', 'output_format', 'seed', 'negative_prompt', 'image', 'strength', ...(sd3 ? ['mode'] : [])];
    const extra = Object.keys(body).find((key) => !allowed.includes(key));
    if (extra !== undefined) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
    const prompt = body['prompt'];
    if (typeof prompt !== 'string' || prompt.length < 1 || prompt.length > 10_000)
      return 'Malformed input request: #/prompt: expected minLength: 1, maxLength: 10000';
    if (sd3 && body['mode'] !== undefined && body['mode'] !== 'text-to-image')
      return `Malformed input request: #/mode: ${asText(body['mode'])} is not a valid enum value`;
    const ratio = body['aspect_ratio'] ?? '1:1';
    if (typeof ratio !== 'string' || !RATIOS.includes(ratio)) return `Malformed input request: #/aspect_ratio: ${asText(ratio)} is not a valid enum value`;
    const format = body['output_format'] ?? 'png';
    if (format !== 'png' && format !== 'jpeg') return `Malformed input request: #/output_format: ${asText(format)} is not a valid enum value`;
    const seed = body['seed'] ?? 0;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 4_294_967_294)
      return 'Malformed input request: #/seed: must be 0 to 4294967294';
    const negative = body['negative_prompt'];
    if (negative !== undefined && (typeof negative !== 'string' || negative.length > 10_000))
      return 'Malformed input request: #/negative_prompt: maxLength: 10000';

    const outcome = this.#outcomes.shift() ?? 'success';
    if (fault.kind === 'moderation' || prompt.includes('forbidden')) return { finish_reasons: ['Filter reason: prompt'] };
    if (outcome === 'inference_error') return { finish_reasons: ['Inference error'] };
    const [width, height] = ONE_MEGAPIXEL[ratio] ?? [1024, 1024];
    // Core draws about 1.5 megapixels, still in steps of 64.
    const scale = modelId.includes('core') ? Math.sqrt(1.5) : 1;
    const servedSeed = seed === 0 ? 1_234_567 : seed;
    const bytes = await this.#image(Math.round((width * scale) / 64) * 64, Math.round((height * scale) / 64) * 64, format, servedSeed);
    const image = fault.kind === 'bad_base64' ? `${bytes.toString('base64').slice(0, 64)}!!not base64!!` : bytes.toString('base64');
    // An output the filter caught still comes back, blurred: it must never be delivered.
    return { seeds: [servedSeed], finish_reasons: [outcome === 'filter_output' ? 'Filter reason: output image' : null], images: [image] };
  }

  /** Nova Canvas and Titan Image Generator v2: a TEXT_IMAGE task with `numberOfImages`. */
  async #amazon(modelId: string, body: Record<string, unknown>, fault: Fault): Promise<Record<string, unknown> | string> {
    const nova = modelId === NOVA;
    const extra = Object.keys(body).find((key) => !['taskType', 'textToImageParams', 'imageGenerationConfig'].includes(key));
    if (extra !== undefined) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
    if (body['taskType'] !== 'TEXT_IMAGE') return `Malformed input request: #/taskType: ${asText(body['taskType'])} is not a valid enum value`;
    const params = body['textToImageParams'];
    const config = body['imageGenerationConfig'] ?? {};
    if (!isRecord(params) || !isRecord(config)) return 'Malformed input request: #: required key [textToImageParams] not found';
    const paramKeys = ['text', 'negativeText', ...(nova ? ['style'] : [])];
    const configKeys = ['width', 'height', 'quality', 'numberOfImages', 'seed', 'cfgScale'];
    const extraKey = [...Object.keys(params).filter((key) => !paramKeys.includes(key)), ...Object.keys(config).filter((key) => !configKeys.includes(key))][0];
    if (extraKey !== undefined) return `Malformed input request: extraneous key [${extraKey}] is not permitted, please reformat your input and try again.`;
    const maxChars = nova ? 1024 : 512;
    const text = params['text'];
    if (typeof text !== 'string' || text.length < 1 || text.length > maxChars)
      return `Malformed input request: #/textToImageParams/text: expected minLength: 1, actual: ${asText(text).length}, maxLength: ${maxChars}`;
    const negative = params['negativeText'];
    if (negative !== undefined && (typeof negative !== 'string' || negative.length < 1 || negative.length > maxChars))
      return `Malformed input request: #/textToImageParams/negativeText: maxLength: ${maxChars}`;
    const width = config['width'] ?? 1024;
    const height = config['height'] ?? 1024;
    if (typeof width !== 'number' || typeof height !== 'number') return 'Malformed input request: #/imageGenerationConfig/width: expected type: Integer';
    if (nova) {
      const badEdge = (px: number) => !Number.isInteger(px) || px < 320 || px > 4096 || px % 16 !== 0;
      if (badEdge(width) || badEdge(height)) return 'The width and height must be between 320 and 4096 pixels and divisible by 16.';
      if (width * height > 4_194_304 || Math.max(width, height) / Math.min(width, height) > 4)
        return 'The image must be at most 4,194,304 pixels with an aspect ratio between 1:4 and 4:1.';
    } else if (!TITAN_SIZES.has(`${width}x${height}`)) {
      return `Malformed input request: the image size ${width}x${height} is not supported.`;
    }
    const quality = config['quality'] ?? 'standard';
    if (quality !== 'standard' && quality !== 'premium')
      return `Malformed input request: #/imageGenerationConfig/quality: ${asText(quality)} is not a valid enum value`;
    const count = config['numberOfImages'] ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 5)
      return 'Malformed input request: #/imageGenerationConfig/numberOfImages: must be 1 to 5';
    const seed = config['seed'] ?? 12;
    const maxSeed = nova ? 858_993_459 : 2_147_483_646;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > maxSeed)
      return `Malformed input request: #/imageGenerationConfig/seed: must be 0 to ${maxSeed}`;
    const cfg = config['cfgScale'];
    if (cfg !== undefined && (typeof cfg !== 'number' || cfg < 1.1 || cfg > 10))
      return 'Malformed input request: #/imageGenerationConfig/cfgScale: must be 1.1 to 10';

    const outcome = this.#outcomes.shift() ?? 'success';
    if (fault.kind === 'moderation' || text.includes('forbidden')) return BLOCKED_REQUEST;
    if (outcome === 'output_blocked') return 'The generated image has been blocked by our content filters.';
    const images: string[] = [];
    const delivered = outcome === 'fewer_images' ? count - 1 : count;
    for (let i = 0; i < delivered; i += 1) {
      const bytes = await this.#image(width, height, 'png', seed + i);
      images.push(fault.kind === 'bad_base64' ? `${bytes.toString('base64').slice(0, 64)}!!not base64!!` : bytes.toString('base64'));
    }
    if (outcome === 'inband_error')
      return { images: images.slice(1), error: 'This request has been blocked by our content filters: some generated images were removed.' };
    return { images, error: null };
  }

  /**
   * Checks the SigV4 signature as Bedrock would (AWS General Reference, "Create a signed AWS API
   * request"): what it said, or why it is refused (Bedrock's own messages).
   */
  #verifySignature(received: Received): SignedBy | string {
    const authorization = received.headers['authorization'];
    const amzDate = received.headers['x-amz-date'];
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      authorization ?? '',
    );
    if (match === null || typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
      return "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters, and an x-amz-date header.";
    }
    const [, accessKeyId = '', date = '', region = '', service = '', signedHeaderList = '', signature = ''] = match;
    if (accessKeyId !== this.#accessKeyId) return 'The security token included in the request is invalid.';
    if (!amzDate.startsWith(date)) return 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.';
    const signedHeaders = signedHeaderList.split(';');
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) return "'Host' and 'X-Amz-Date' must be signed headers.";
    const canonicalHeaders = signedHeaders
      .map(
        (name) =>
          `${name}:${asText(received.headers[name] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}\n`,
      )
      .join('');
    // Non-S3 services sign the path with each segment URI-encoded once more.
    const rawPath = received.path;
    const canonicalUri = rawPath.split('/').map(uriEscape).join('/');
    const query = [...received.query.entries()]
      .map(([name, value]) => `${uriEscape(name)}=${uriEscape(value)}`)
      .sort()
      .join('&');
    const payloadHash = createHash('sha256').update(received.body).digest('hex');
    const canonicalRequest = [received.method, canonicalUri, query, canonicalHeaders, signedHeaderList, payloadHash].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    let key: Buffer = Buffer.from(`AWS4${this.#secretAccessKey}`);
    for (const part of [date, region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
    if (expected !== signature)
      return 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
    const token = received.headers['x-amz-security-token'];
    return { accessKeyId, region, service, signedHeaders, sessionToken: typeof token === 'string' ? token : undefined };
  }

  #image(width: number, height: number, format: 'png' | 'jpeg', seed: number): Promise<Buffer> {
    const key = `${width}x${height}.${format}.${seed % 50}`;
    let image = this.#images.get(key);
    if (image === undefined) {
      image = fakeImage(width, height, format, seed % 50);
      this.#images.set(key, image);
    }
    return image;
  }
}

export async function startBedrockFake(options: { accessKeyId?: string; secretAccessKey?: string } = {}): Promise<BedrockFake> {
  return new BedrockFake(options).start();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request field as text for checks and messages (JSON for anything not a string). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** RFC 3986 unreserved characters stay; everything else is percent-encoded (SigV4's UriEncode). */
function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
