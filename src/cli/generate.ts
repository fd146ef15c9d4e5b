import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ErrorSchema, ImagesResponseSchema, ModelSchema, QuoteSchema, UsageSchema } from '../api/docs/response-schemas.ts';
import { type Config, publicBaseUrl } from '../config.ts';
import { ERROR_CODES } from '../errors.ts';
import { sniffImageFormat } from '../media/sniff.ts';
import { SseParser } from '../providers/shared/sse-parser.ts';
import { type ParsedCommandLine, parseCommandLine, printUsage, UsageError, wantsHelp } from './command-line.ts';
import { parseCount } from './flag-values.ts';
import { type Progress, startProgress } from './generate-progress.ts';

export const GENERATE_USAGE = `usage: imagegate generate PROMPT [options]
Makes images on a running gateway and saves them. It asks for a price quote first (nothing is
charged if the request would be refused), then generates; on a terminal it shows its progress
(and partial images of models that stream), otherwise it prints plain lines.
  --model ID            a model id or alias (default: the server's default model)
  --size WxH            1024x1024, 1536x1024, auto … (GET /v1/models lists each model's)
  --n N                 how many images (default 1)
  --quality Q           low, medium, high, hd … (the model's qualities)
  --format F            png, jpeg or webp, for models that take output_format
  --seed N              a seed, for models that take one
  --out DIR             where the files go (default: the current folder)
  --partial-images N    partial images to receive per image while streaming, 0-3 (default:
                        1 on a terminal for models that stream, else 0; OpenAI bills each)
  --base-url URL        the server's root (default: IMAGEGATE_BASE_URL, else the configured address)
  --key KEY             a user key (default: IMAGEGATE_KEY)
  --json                print the response as JSON (images replaced by the files saved)
exit codes: 0 saved; 1 a local failure (files); 2 bad usage; 3 the request was refused (a value,
the model, the key's policy); 4 the key was rejected; 5 over a rate limit or the budget (429);
6 the gateway or its upstream failed, or could not be reached`;

const SPEC = {
  usage: GENERATE_USAGE,
  options: {
    model: { type: 'string' },
    size: { type: 'string' },
    n: { type: 'string' },
    quality: { type: 'string' },
    format: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'partial-images': { type: 'string' },
    'base-url': { type: 'string' },
    key: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: ['PROMPT'],
} as const;

/** Exit codes scripts can branch on: retrying helps after 5 and 6, not after 3 or 4. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, unauthorized: 4, limited: 5, unavailable: 6 } as const;

/** A failure with the exit code it ends the command with. */
class GenerateFailure extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The exit code for an answer's HTTP status. */
function exitForStatus(status: number): number {
  if (status === 401) return EXIT.unauthorized;
  if (status === 429) return EXIT.limited;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.refused;
}

const StreamEventSchema = z.object({
  type: z.string(),
  b64_json: z.string(),
  partial_image_index: z.number().int().optional(),
  usage: UsageSchema.optional(),
});

interface Options {
  readonly prompt: string;
  readonly body: Readonly<Record<string, string | number>>;
  readonly outDir: string;
  readonly partialImages: number | null;
  readonly json: boolean;
}

interface Target {
  readonly baseUrl: string;
  readonly key: string;
}

/** One image written, for the summary and `--json`. */
interface Saved {
  readonly file: string;
  readonly bytes: number;
}

/**
 * `imagegate generate`. The arguments are checked before the config is read; the config is read
 * only for what the flags leave out (the server's address, the key).
 */
export async function generateCommand(args: readonly string[], loadConfig: () => Config): Promise<number> {
  if (wantsHelp(args)) return printUsage(GENERATE_USAGE);
  const line = parseCommandLine(SPEC, args);
  const options = readOptions(line);
  const target = resolveTarget(line.string('base-url'), line.string('key'), loadConfig);
  const interactive = process.stderr.isTTY && !options.json;
  const progress = startProgress(interactive, options.json ? process.stderr : process.stdout);
  try {
    return await generate(options, target, progress, interactive);
  } catch (err) {
    progress.stop();
    if (err instanceof GenerateFailure) {
      process.stderr.write(`imagegate: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  } finally {
    progress.stop();
  }
}

function readOptions(line: ParsedCommandLine<(typeof SPEC)['options']>): Options {
  const [prompt = ''] = line.positionals;
  if (prompt.trim() === '') throw new UsageError('PROMPT is empty: say what to draw', GENERATE_USAGE);
  const body: Record<string, string | number> = { prompt };
  for (const name of ['model', 'size', 'quality'] as const) {
    const value = line.string(name);
    if (value !== undefined) body[name] = value;
  }
  const format = line.string('format');
  if (format !== undefined) body['output_format'] = format;
  const n = line.string('n');
  if (n !== undefined) body['n'] = parseCount('--n', n, 'images', 2);
  const seed = line.string('seed');
  if (seed !== undefined) {
    if (!/^\d{1,10}$/.test(seed)) throw new UsageError(`--seed: expected a whole number such as 42, got '${seed}'`);
    body['seed'] = Number(seed);
  }
  const partials = line.string('partial-images');
  if (partials !== undefined && !/^[0-3]$/.test(partials)) throw new UsageError(`--partial-images: expected 0, 1, 2 or 3, got '${partials}'`);
  const json = line.flag('json');
  if (json && partials !== undefined && partials !== '0') throw new UsageError('--json prints one JSON answer; leave out --partial-images');
  return { prompt, body, outDir: line.string('out') ?? '.', partialImages: partials === undefined ? null : Number(partials), json };
}

function resolveTarget(baseUrlFlag: string | undefined, keyFlag: string | undefined, loadConfig: () => Config): Target {
  let config: Config | null = null;
  const configured = (): Config => (config ??= loadConfig());
  const baseUrl = baseUrlFlag ?? configured().client.baseUrl ?? publicBaseUrl(configured(), configured().server.port);
  if (URL.parse(baseUrl) === null || !/^https?:/.test(baseUrl))
    throw new UsageError(`--base-url: expected the server's root such as http://127.0.0.1:8080, got '${baseUrl}'`);
  const key = keyFlag ?? configured().client.key;
  if (key === undefined) throw new UsageError('no key: set IMAGEGATE_KEY or pass --key (imagegate keys create makes one)');
  return { baseUrl: baseUrl.replace(/\/+$/, ''), key };
}

async function generate(options: Options, target: Target, progress: Progress, interactive: boolean): Promise<number> {
  const quote = QuoteSchema.parse(await callJson(target, 'POST', '/v1/images/quote', options.body));
  const model = ModelSchema.parse(await callJson(target, 'GET', `/v1/models/${encodeURIComponent(quote.model)}`));
  const streams = model.imagegate.streaming;
  if (options.partialImages !== null && options.partialImages > 0 && !streams) {
    throw new UsageError(`--partial-images: ${quote.model} does not stream; leave the flag out`);
  }
  const partialImages = options.partialImages ?? (interactive && streams ? 1 : 0);
  const what = `${quote.model}: ${quote.n} × ${quote.size}, ${quote.quality}, up to $${quote.max_cost_usd.toFixed(4)}`;
  progress.begin(what);
  await mkdir(options.outDir, { recursive: true }).catch((err: unknown) => {
    throw new GenerateFailure(`cannot create ${options.outDir}: ${err instanceof Error ? err.message : String(err)}`, EXIT.failed);
  });
  const startedAtMs = performance.now();
  const namer = fileNamer(options.outDir, options.prompt);
  const result =
    partialImages > 0 ? await generateStreamed(options, target, progress, namer, partialImages, quote) : await generateOnce(options, target, progress, namer);
  const seconds = ((performance.now() - startedAtMs) / 1000).toFixed(1);
  progress.done(`${result.saved.length} image${result.saved.length === 1 ? '' : 's'} in ${seconds} s, ${result.costText}`);
  if (options.json) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
  // On a terminal the summary above said it already; a script reads it from stdout.
  else if (!interactive) process.stdout.write(`${result.costText}\n`);
  return EXIT.ok;
}

interface Outcome {
  readonly saved: readonly Saved[];
  readonly costText: string;
  readonly json: unknown;
}

/** One JSON request; the cost comes from the answer's `x-imagegate-cost-usd`. */
async function generateOnce(options: Options, target: Target, progress: Progress, name: (index: number, ext: string) => Promise<string>): Promise<Outcome> {
  progress.status('waiting for the images');
  const response = await call(target, 'POST', '/v1/images/generations', { ...options.body, response_format: 'b64_json' });
  const body = ImagesResponseSchema.parse(await response.json());
  const saved: Saved[] = [];
  const data: unknown[] = [];
  for (const [index, item] of body.data.entries()) {
    if (!('b64_json' in item)) throw new GenerateFailure('the gateway answered a link where base64 was asked', EXIT.unavailable);
    const file = await save(name, index, Buffer.from(item.b64_json, 'base64'));
    saved.push(file);
    progress.saved(file.file, file.bytes);
    data.push({ file: file.file, ...(item.revised_prompt === undefined ? {} : { revised_prompt: item.revised_prompt }) });
  }
  const cost = response.headers.get('x-imagegate-cost-usd');
  const costUsd = cost === null ? null : Number(cost);
  const headers = Object.fromEntries([...response.headers].filter(([header]) => header.startsWith('x-imagegate-') || header === 'x-request-id'));
  return { saved, costText: costUsd === null ? 'cost unknown' : `cost $${costUsd.toFixed(6)}`, json: { ...body, data, headers } };
}

/**
 * A streamed request: partial images are shown as they arrive, each completed image is saved at
 * once. The charge is not in a stream's headers (they go out before the images exist), so the
 * cost printed is the model's token price applied to the usage each completed event reports.
 */
async function generateStreamed(
  options: Options,
  target: Target,
  progress: Progress,
  name: (index: number, ext: string) => Promise<string>,
  partialImages: number,
  quote: z.infer<typeof QuoteSchema>,
): Promise<Outcome> {
  progress.status('waiting for the first partial image');
  const response = await call(target, 'POST', '/v1/images/generations', { ...options.body, stream: true, partial_images: partialImages });
  const reader = response.body?.getReader();
  if (reader === undefined) throw new GenerateFailure('the gateway answered without a body', EXIT.unavailable);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const saved: Saved[] = [];
  let costMicroUsd = 0;
  let partials = 0;
  const handle = async (event: string, data: string): Promise<void> => {
    if (event === 'error') {
      const parsed = ErrorSchema.safeParse(parseJson(data));
      const code = parsed.success ? parsed.data.error.code : null;
      const status = Object.entries(ERROR_CODES).find(([known]) => known === code)?.[1].status ?? 502;
      throw new GenerateFailure(parsed.success ? `${parsed.data.error.message} (${code ?? 'error'})` : 'the stream ended with an error', exitForStatus(status));
    }
    const parsed = StreamEventSchema.safeParse(parseJson(data));
    if (!parsed.success) return;
    if (parsed.data.type.endsWith('.partial_image')) {
      partials += 1;
      progress.status(`partial image ${partials} of ${quote.n * partialImages} received`);
      return;
    }
    if (!parsed.data.type.endsWith('.completed')) return;
    const file = await save(name, saved.length, Buffer.from(parsed.data.b64_json, 'base64'));
    saved.push(file);
    progress.saved(file.file, file.bytes);
    if (saved.length < quote.n) progress.status(`waiting for image ${saved.length + 1} of ${quote.n}`);
    const usage = parsed.data.usage;
    if (usage !== undefined && quote.price.rule === 'per_token') {
      const price = quote.price;
      costMicroUsd +=
        usage.input_tokens_details.text_tokens * price.usd_per_million_text_input +
        usage.input_tokens_details.image_tokens * price.usd_per_million_image_input +
        usage.output_tokens * price.usd_per_million_image_output;
    }
  };
  for (;;) {
    const chunk = await reader.read();
    const bytes: unknown = chunk.value;
    const events = chunk.done ? parser.end() : bytes instanceof Uint8Array ? parser.push(decoder.decode(bytes, { stream: true })) : [];
    for (const event of events) await handle(event.event, event.data);
    if (chunk.done) break;
  }
  if (saved.length < quote.n) throw new GenerateFailure(`the stream ended after ${saved.length} of ${quote.n} images`, EXIT.unavailable);
  const costUsd = quote.price.rule === 'per_token' ? costMicroUsd / 1_000_000 : quote.price.usd_per_image * saved.length;
  const costText = `cost about $${costUsd.toFixed(6)} (${quote.price.rule === 'per_token' ? 'from the usage reported' : 'at the catalog price'})`;
  return { saved, costText, json: { data: saved.map((file) => ({ file: file.file })) } };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A request to the gateway; an error answer becomes a failure with its message and exit code. */
async function call(target: Target, method: 'GET' | 'POST', route: string, body?: unknown): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${target.baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${target.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new GenerateFailure(`cannot reach ${target.baseUrl}: ${cause}`, EXIT.unavailable);
  }
  if (response.ok) return response;
  const parsed = ErrorSchema.safeParse(parseJson(await response.text()));
  const message = parsed.success
    ? `${parsed.data.error.message} (${parsed.data.error.code ?? parsed.data.error.type}, HTTP ${response.status})`
    : `HTTP ${response.status}`;
  throw new GenerateFailure(message, exitForStatus(response.status));
}

async function callJson(target: Target, method: 'GET' | 'POST', route: string, body?: unknown): Promise<unknown> {
  return (await call(target, method, route, body)).json();
}

/** Names files after the prompt and the run, never overwriting one that exists. */
function fileNamer(outDir: string, prompt: string): (index: number, ext: string) => Promise<string> {
  const slug =
    prompt
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'image';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return async (index, ext) => path.join(outDir, `${slug}-${stamp}-${index + 1}.${ext}`);
}

/** Writes an image under the extension its bytes say (not the one asked), refusing to overwrite. */
async function save(name: (index: number, ext: string) => Promise<string>, index: number, bytes: Buffer): Promise<Saved> {
  const format = sniffImageFormat(bytes);
  if (format === null) throw new GenerateFailure(`image ${index + 1} is not a PNG, JPEG or WebP image`, EXIT.unavailable);
  const base = await name(index, format === 'jpeg' ? 'jpg' : format);
  for (let attempt = 1; ; attempt += 1) {
    const file = attempt === 1 ? base : base.replace(/(\.[a-z]+)$/, `-${attempt}$1`);
    try {
      await writeFile(file, bytes, { flag: 'wx' });
      return { file, bytes: bytes.length };
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'EEXIST' && attempt < 100) continue;
      throw new GenerateFailure(`cannot write ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT.failed);
    }
  }
}
