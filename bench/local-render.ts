// The local renderer's speed: images per second through `localProvider.generate` (n = 1) for
// 1024x1024 png, jpeg and webp at each quality, beside sharp's encode-only rate for the same
// format and size: the ceiling, since every render ends in exactly such an encode. Both figures
// come from the same run, so their ratio holds on a noisy, shared machine. Target: ratio >= 0.7
// at low quality.
//
// The ceiling encodes a pre-rendered 1024x1024 raw buffer of the same scene (a render of that
// cell, decoded) with the encoder settings the renderer uses (src/media/encoder.ts), in the
// renderer's own channel layout: opaque pictures are RGB, and encoding an RGBA buffer instead
// would make the ceiling slower than the work the renderer really has to do.
//
// Renders and encodes alternate within each cell, and the ratio is the median of paired rounds
// (see `measureCell`), so it holds even when something else on the machine takes CPU for a while.
//
//   npx node bench/local-render.ts        (about 2 s per cell, 9 cells)
import sharp from 'sharp';
import pino from 'pino';
import { Catalog, MODELS } from '../src/catalog/index.ts';
import type { OutputFormat } from '../src/catalog/index.ts';
import { validateGeneration } from '../src/contract/generation.ts';
import type { GenerationRequest } from '../src/contract/generation-request.ts';
import { withEncoder } from '../src/media/encoder.ts';
import { PROVIDERS } from '../src/providers/registry.ts';
import { PollPacer } from '../src/providers/shared/poll-pacer.ts';
import type { RoutedChannel } from '../src/routing/router.ts';
import { buildChannels } from '../src/routing/build-channels.ts';

const SIZE = { width: 1024, height: 1024 } as const;
const FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp'];
const QUALITIES = ['low', 'medium', 'high'] as const;
const WARM_UP_RUNS = 3;
const JIT_WARM_UP_RENDERS = 60;
/** The contract's default `output_compression` (none): the heaviest jpeg/webp encode. */
const COMPRESSION_PCT = 100;

const PROMPTS = [
  'A paper boat floating on calm water at sunrise.',
  'A city skyline at night above a river',
  'Desert dunes at noon',
  'Snowy mountains above a lake at sunset',
  'A sailboat on a stormy sea',
  'A foggy meadow with trees in the morning',
  'A red sailboat on a blue lake with green hills, vivid',
  'a cat wearing a tiny hat',
] as const;

export interface BenchRow {
  readonly format: OutputFormat;
  readonly quality: string;
  readonly rendersPerSecond: number;
  readonly encodesPerSecond: number;
  /**
   * Render speed over the ceiling's: the median, over rounds, of one encode's time over one
   * render's. A median of paired rounds shrugs off bursts of load that the means above absorb.
   */
  readonly ratio: number;
}

const catalog = new Catalog(MODELS);

const ctx = { signal: new AbortController().signal, requestId: 'bench', logger: pino({ level: 'silent' }), pacer: new PollPacer() };

/** Every call differs (prompt and seed), so nothing can be served from a cache. */
let sequence = 0;
function nextRequest(format: OutputFormat, quality: string): GenerationRequest {
  sequence += 1;
  // Through the contract, as the gateway builds it: every other field gets its real default.
  return validateGeneration(
    {
      model: 'gpt-image-1',
      prompt: PROMPTS[sequence % PROMPTS.length],
      size: `${SIZE.width}x${SIZE.height}`,
      quality,
      output_format: format,
      // The contract takes output_compression for jpeg and webp only.
      ...(format === 'png' ? {} : { output_compression: COMPRESSION_PCT }),
      seed: sequence,
    },
    { catalog, defaultModel: 'gpt-image-1', unsupportedParams: 'error' },
  );
}

/** The local channel as the gateway builds it; set by `main`. */
let channel: RoutedChannel | null = null;

async function render(format: OutputFormat, quality: string): Promise<Buffer> {
  if (channel === null) throw new Error('main() sets up the channel first');
  const request = nextRequest(format, quality);
  const result = await channel.provider.generate(request, { ...ctx, channel: channel.channel, upstreamModel: request.model.id });
  const image = result.images[0];
  if (image === undefined) throw new Error('no image rendered');
  return image.bytes;
}

/** Decoded full-size renders of one cell, one per prompt: the ceiling encodes these. */
async function ceilingSamples(format: OutputFormat, quality: string): Promise<{ data: Buffer; raw: sharp.CreateRaw }[]> {
  const samples = [];
  for (let i = 0; i < PROMPTS.length; i += 1) {
    const { data, info } = await sharp(await render(format, quality))
      .raw()
      .toBuffer({ resolveWithObject: true });
    samples.push({ data, raw: { width: info.width, height: info.height, channels: info.channels } });
  }
  return samples;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function timeMs(task: () => Promise<unknown>): Promise<number> {
  const startMs = performance.now();
  await task();
  return performance.now() - startMs;
}

/**
 * One cell: renders and ceiling encodes alternate, one of each per round, so load from elsewhere
 * on the machine falls on both alike.
 */
async function measureCell(format: OutputFormat, quality: string, cellMs: number): Promise<BenchRow> {
  const samples = await ceilingSamples(format, quality);
  const encodeOnly = (round: number): Promise<Buffer> => {
    const sample = samples[round % samples.length];
    if (sample === undefined) throw new Error('no sample');
    return withEncoder(sharp(sample.data, { raw: sample.raw }), format, COMPRESSION_PCT).toBuffer();
  };
  for (let round = 0; round < WARM_UP_RUNS; round += 1) {
    await render(format, quality);
    await encodeOnly(round);
  }
  let renderMs = 0;
  let encodeMs = 0;
  const roundRatios: number[] = [];
  while (renderMs + encodeMs < cellMs) {
    const oneRenderMs = await timeMs(() => render(format, quality));
    const oneEncodeMs = await timeMs(() => encodeOnly(roundRatios.length));
    renderMs += oneRenderMs;
    encodeMs += oneEncodeMs;
    roundRatios.push(oneEncodeMs / oneRenderMs);
  }
  const rounds = roundRatios.length;
  return {
    format,
    quality,
    rendersPerSecond: (rounds * 1000) / renderMs,
    encodesPerSecond: (rounds * 1000) / encodeMs,
    ratio: median(roundRatios),
  };
}

export async function main(options: { cellMs?: number } = {}): Promise<BenchRow[]> {
  const cellMs = options.cellMs ?? 2000;
  const built = buildChannels([], PROVIDERS, catalog, { maxDownloadBytes: 1024, downloadTimeoutMs: 1000 });
  channel = built.local;
  try {
    return await measureAll(cellMs);
  } finally {
    await built.close();
  }
}

async function measureAll(cellMs: number): Promise<BenchRow[]> {
  // The JIT optimizes the paint loops only after they have run a while; without this the first
  // cell would measure unoptimized code.
  for (let round = 0; round < JIT_WARM_UP_RENDERS; round += 1) {
    await render(FORMATS[round % FORMATS.length] ?? 'png', QUALITIES[Math.floor(round / FORMATS.length) % QUALITIES.length] ?? 'low');
  }
  const rows: BenchRow[] = [];
  for (const format of FORMATS) {
    for (const quality of QUALITIES) rows.push(await measureCell(format, quality, cellMs));
  }
  printTable(rows);
  return rows;
}

function printTable(rows: readonly BenchRow[]): void {
  console.log(`local renderer, ${SIZE.width}x${SIZE.height}, n=1, output_compression ${COMPRESSION_PCT}`);
  console.log('| format | quality | renders/s | encode-only/s | ratio |');
  console.log('|---|---|---:|---:|---:|');
  for (const row of rows) {
    console.log(`| ${row.format} | ${row.quality} | ${row.rendersPerSecond.toFixed(1)} | ${row.encodesPerSecond.toFixed(1)} | ${row.ratio.toFixed(2)} |`);
  }
}

if (import.meta.main) await main();
