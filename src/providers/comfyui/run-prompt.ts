import { randomUUID } from 'node:crypto';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { encodePreview } from '../../media/encode-preview.ts';
import { type PollState, pollUntilDone } from '../shared/poll-until-done.ts';
import { errorForStatus, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage } from '../types.ts';
import { executionError, interruptedError, submitError } from './errors.ts';
import { comfyGet, comfyJson, comfyPost } from './http.ts';
import type { ComfyOptions } from './options.ts';
import { PromptSocket } from './socket.ts';
import { ExecutionErrorSchema, type HistoryEntry, HistoryAnswerSchema, HistoryEntrySchema, type OutputImage, SubmitAnswerSchema } from './wire.ts';
import type { ApiGraph } from './workflow.ts';

const MIME: Readonly<Record<string, string>> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };

/**
 * One prompt on a ComfyUI server (server.py): open the progress socket under a fresh client id,
 * `POST /prompt {prompt, client_id}` → `{prompt_id}`, follow the socket until ComfyUI says the
 * prompt is done, relaying sampler previews as partial images when the request streams; without a
 * socket (it did not open, or was lost midway) poll `GET /history/{prompt_id}` instead
 * (shared/poll-until-done.ts). The images its output nodes wrote are fetched at once with
 * `GET /view`. A call abandoned midway (client gone, timeout) takes the prompt off ComfyUI's queue
 * and interrupts it, so the GPU does not draw pictures nobody will see.
 */
export async function runPrompt(graph: ApiGraph, params: ImageParams, images: number, call: ProviderCall<ComfyOptions>): Promise<ProviderImage[]> {
  const { channel, options } = call;
  const clientId = randomUUID();
  const log = { requestId: call.requestId, channel: channel.id, clientId };
  const socket = options.websocket ? await PromptSocket.open(call, clientId) : null;
  if (options.websocket && socket === null) call.logger.warn(log, 'comfyui progress socket did not open; polling the history');
  call.signal.throwIfAborted();
  let promptId: string | null = null;
  try {
    promptId = await submit(graph, clientId, call);
    const id = promptId;
    call.logger.debug({ ...log, promptId: id }, 'comfyui prompt queued');

    const written: Array<{ node: string; images: readonly OutputImage[] }> = [];
    let entry: HistoryEntry | null = null;
    let end: 'done' | 'lost' | 'none' = 'none';
    if (socket !== null) {
      const previews = new Previews(params, call);
      end = await socket.watch(
        id,
        {
          onProgress: (value, max) => previews.progress(value, max),
          onPreview: (bytes) => previews.frame(bytes),
          onImages: (node, made) => written.push({ node, images: made }),
        },
        options.refusal,
        call.signal,
      );
      await previews.flushed();
      if (end === 'lost') call.logger.warn({ ...log, promptId: id }, 'comfyui progress socket lost; polling the history');
      if (end === 'done' && written.length === 0) entry = await historyOnce(id, call);
    }
    // Without a socket, or one lost midway, the history is the only word on how the prompt ended.
    if (end !== 'done' || (written.length === 0 && entry === null)) entry = await pollHistory(id, call);
    const outputs = entry === null ? written : Object.entries(entry.outputs).map(([node, output]) => ({ node, images: output.images ?? [] }));
    return await fetchImages(pick(outputs, images, call, id), call);
  } catch (err) {
    if (call.signal.aborted && promptId !== null) cancel(promptId, call);
    throw err;
  } finally {
    socket?.close();
  }
}

async function submit(graph: ApiGraph, clientId: string, call: ProviderCall<ComfyOptions>): Promise<string> {
  const response = await comfyPost(call.channel, '/prompt', { prompt: graph, client_id: clientId }, call.signal);
  if (response.status !== 200) {
    const error = submitError(response.status, response.headers, response.text);
    call.logger.warn({ requestId: call.requestId, channel: call.channel.id, upstreamStatus: response.status, code: error.code }, 'comfyui refused the prompt');
    throw error;
  }
  return parseWire('comfyui', SubmitAnswerSchema, comfyJson(response), 'the prompt answer').prompt_id;
}

/** One look at the history: the prompt's entry once it has ended, or null while it is queued or running. */
async function historyOnce(promptId: string, call: ProviderCall<ComfyOptions>): Promise<HistoryEntry | null> {
  const state = await historyState(promptId, call);
  return state.done ? state.value : null;
}

async function pollHistory(promptId: string, call: ProviderCall<ComfyOptions>): Promise<HistoryEntry> {
  const { options, channel } = call;
  return pollUntilDone<string, HistoryEntry>(
    { submit: async () => promptId, poll: async (id) => historyState(id, call) },
    {
      timing: { initialMs: options.pollInitialMs, maxMs: options.pollMaxMs, minIntervalMs: options.pollMinIntervalMs },
      pacer: call.pacer,
      pacerKey: channel.id,
      signal: call.signal,
      onPollFailure: (err, failuresInARow) =>
        call.logger.warn(
          { requestId: call.requestId, channel: channel.id, promptId, code: err.code, failuresInARow },
          'comfyui history poll failed; polling on',
        ),
    },
  );
}

/**
 * `GET /history/{prompt_id}`: `{}` while queued or running; then the entry, whose `status` says
 * how it ended (`success`, or `error` with the `execution_error` among its messages).
 */
async function historyState(promptId: string, call: ProviderCall<ComfyOptions>): Promise<PollState<HistoryEntry>> {
  const response = await comfyGet(call.channel, `/history/${encodeURIComponent(promptId)}`, call.signal);
  if (response.status !== 200) throw errorForStatus('comfyui', response.status, response.headers, `HTTP ${response.status}`);
  const answer = parseWire('comfyui', HistoryAnswerSchema, comfyJson(response), 'the history');
  const raw = answer[promptId];
  if (raw === undefined) return { done: false };
  const entry = parseWire('comfyui', HistoryEntrySchema, raw, 'the history entry');
  if (entry.status?.status_str === 'error') {
    for (const [event, data] of entry.status.messages) {
      if (event === 'execution_error') throw executionError(parseWire('comfyui', ExecutionErrorSchema, data, 'an execution_error'), call.options.refusal);
      if (event === 'execution_interrupted') throw interruptedError(promptId);
    }
    throw new GatewayError('upstream_error', `The upstream ComfyUI failed prompt ${promptId}.`, { retryable: true });
  }
  return { done: true, value: entry };
}

/**
 * The images the request gets from what the output nodes wrote: SaveImage's (`type: output`), or
 * where the workflow only previews, PreviewImage's (`type: temp`), in node order. Exactly `wanted`.
 */
function pick(
  outputs: ReadonlyArray<{ node: string; images: readonly OutputImage[] }>,
  wanted: number,
  call: ProviderCall<ComfyOptions>,
  promptId: string,
): OutputImage[] {
  const all = outputs.flatMap((output) => output.images);
  const saved = all.filter((image) => image.type === 'output');
  const chosen = saved.length > 0 ? saved : all;
  if (chosen.length < wanted) throw malformedResponse('comfyui', `prompt ${promptId} wrote ${chosen.length} images where ${wanted} were asked`);
  if (chosen.length > wanted)
    call.logger.warn(
      { requestId: call.requestId, channel: call.channel.id, promptId, wrote: chosen.length, wanted },
      'comfyui workflow wrote more images than asked; the first are kept',
    );
  return chosen.slice(0, wanted);
}

/** `GET /view?filename=&subfolder=&type=` for each image, at once: the files live on the ComfyUI host only. */
async function fetchImages(images: readonly OutputImage[], call: ProviderCall<ComfyOptions>): Promise<ProviderImage[]> {
  return Promise.all(
    images.map(async (image) => {
      const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
      const response = await comfyGet(call.channel, `/view?${query.toString()}`, call.signal);
      if (response.status !== 200) {
        // A file gone from the output folder (deleted, another disk): a fresh prompt writes a new one.
        throw new GatewayError('upstream_error', `The upstream ComfyUI could not serve ${image.filename} (HTTP ${response.status}).`, { retryable: true });
      }
      if (response.body.length === 0) throw malformedResponse('comfyui', `${image.filename} is empty`);
      const extension = image.filename.split('.').pop()?.toLowerCase() ?? '';
      const mime = MIME[extension];
      return { bytes: response.body, ...(mime === undefined ? {} : { mime }) };
    }),
  );
}

/**
 * Takes an abandoned prompt off ComfyUI's queue (`POST /queue {delete}`, for one still pending) and
 * stops it if it runs (`POST /interrupt {prompt_id}`: servers since 2025 interrupt only that
 * prompt; older ones ignore the body and interrupt whatever runs, which on a server shared with
 * other clients may be theirs). Best effort, on a fresh signal: the call's own has fired.
 */
function cancel(promptId: string, call: ProviderCall<ComfyOptions>): void {
  const signal = AbortSignal.timeout(5000);
  const run = async (): Promise<void> => {
    await comfyPost(call.channel, '/queue', { delete: [promptId] }, signal);
    await comfyPost(call.channel, '/interrupt', { prompt_id: promptId }, signal);
  };
  run().then(
    () => call.logger.info({ requestId: call.requestId, channel: call.channel.id, promptId }, 'comfyui prompt abandoned: dequeued and interrupted'),
    (err: unknown) => call.logger.warn({ requestId: call.requestId, channel: call.channel.id, promptId, err }, 'comfyui prompt could not be interrupted'),
  );
}

/**
 * Sampler previews as partial images: at most `partialImages` of them, spread over the run (the
 * k-th once the sampler is past k/(P+1) of its steps), so the first is not the noise of step one
 * and the last not a copy of the final image. ComfyUI previews the first image of a batch only.
 * A preview that cannot be decoded is skipped: it is a courtesy, the final image is what counts.
 */
class Previews {
  readonly #count: number;
  readonly #params: ImageParams;
  readonly #call: ProviderCall<ComfyOptions>;
  #sent = 0;
  #emitted = 0;
  #fraction: number | null = null;
  #pending: Promise<void> = Promise.resolve();

  constructor(params: ImageParams, call: ProviderCall<ComfyOptions>) {
    this.#params = params;
    this.#call = call;
    this.#count = params.stream && call.onPartial !== undefined ? Math.min(3, Math.max(0, params.partialImages)) : 0;
  }

  progress(value: number, max: number): void {
    if (max > 0) this.#fraction = value / max;
  }

  frame(bytes: Buffer): void {
    const onPartial = this.#call.onPartial;
    if (onPartial === undefined || this.#sent >= this.#count) return;
    const next = (this.#sent + 1) / (this.#count + 1);
    if (this.#fraction !== null && this.#fraction < next) return;
    this.#sent += 1;
    const { size, outputFormat, outputCompression } = this.#params;
    this.#pending = this.#pending.then(async () => {
      try {
        const base64 = await encodePreview(bytes, { size, format: outputFormat, compressionPct: outputCompression });
        // Numbered as they go out, so a skipped frame leaves no gap in partial_image_index.
        onPartial({ imageIndex: 0, partialIndex: this.#emitted, base64 });
        this.#emitted += 1;
      } catch (err) {
        this.#call.logger.debug(
          { requestId: this.#call.requestId, channel: this.#call.channel.id, err },
          'comfyui preview frame could not be decoded; skipped',
        );
      }
    });
  }

  /** Waits for the partials being encoded, so they reach the client before the final images. */
  async flushed(): Promise<void> {
    await this.#pending;
  }
}
