import { WebSocket } from 'undici';
import type { z } from 'zod';
import type { GatewayError } from '../../errors.ts';
import type { ProviderCall } from '../types.ts';
import { executionError, interruptedError } from './errors.ts';
import type { ComfyOptions } from './options.ts';
import {
  ExecutedSchema,
  ExecutingSchema,
  ExecutionErrorSchema,
  type OutputImage,
  PREVIEW_IMAGE_EVENT,
  ProgressSchema,
  PromptEventSchema,
  SocketMessageSchema,
} from './wire.ts';

/** What a watch hears about its prompt. */
export interface WatchHandlers {
  /** A sampler step: `value` of `max`. */
  onProgress(value: number, max: number): void;
  /** A preview image (JPEG or PNG bytes) of the picture being drawn. */
  onPreview(bytes: Buffer): void;
  /** An output node ran (or was cached) and wrote these images. */
  onImages(node: string, images: readonly OutputImage[]): void;
}

/**
 * How a watch ended: the prompt ran to its end (`done`), or the socket can no longer tell
 * (`lost`: closed, or a message it could not read), and the history has to.
 */
export type WatchEnd = 'done' | 'lost';

type Item = { readonly kind: 'text'; readonly data: string } | { readonly kind: 'binary'; readonly data: Buffer } | { readonly kind: 'closed' };

/**
 * ComfyUI's progress socket, `GET /ws?clientId=<id>` (server.py websocket_handler). One socket per
 * call, under a client id of its own: ComfyUI sends a prompt's events (`executing`, `progress`,
 * `executed`, `execution_error` …) and its preview frames only to the client that queued it, so
 * everything on this socket is about this call's prompt. Opened before the prompt is queued, so no
 * event is missed; what arrives before the prompt id is known waits in a buffer.
 */
export class PromptSocket {
  readonly #socket: WebSocket;
  readonly #items: Item[] = [];
  #wake: (() => void) | null = null;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener('message', (event) => {
      const data: unknown = event.data;
      if (typeof data === 'string') this.#push({ kind: 'text', data });
      else if (data instanceof ArrayBuffer) this.#push({ kind: 'binary', data: Buffer.from(data) });
    });
    socket.addEventListener('close', () => this.#push({ kind: 'closed' }));
  }

  /** Opens the socket, or null when it does not open in time (the call then polls the history). */
  static async open(call: ProviderCall<ComfyOptions>, clientId: string): Promise<PromptSocket | null> {
    const url = new URL(`${call.channel.baseUrl}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('clientId', clientId);
    const headers: Record<string, string> = {};
    if (call.channel.apiKey !== null) headers['authorization'] = `Bearer ${call.channel.apiKey}`;
    if (call.signal.aborted) return null;
    const socket = new WebSocket(url, { dispatcher: call.channel.http.dispatcher, headers });
    socket.binaryType = 'arraybuffer';
    const opened = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), call.options.websocketConnectTimeoutMs);
      const settle = (ok: boolean): void => {
        clearTimeout(timer);
        call.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => settle(false);
      call.signal.addEventListener('abort', onAbort, { once: true });
      socket.addEventListener('open', () => settle(true), { once: true });
      socket.addEventListener('error', () => settle(false), { once: true });
      socket.addEventListener('close', () => settle(false), { once: true });
    });
    if (!opened) {
      socket.close();
      return null;
    }
    return new PromptSocket(socket);
  }

  close(): void {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) this.#socket.close();
  }

  /**
   * Follows prompt `promptId` until ComfyUI says it is done (`executing` with `node: null`,
   * main.py), it fails (`execution_error`, `execution_interrupted`: thrown as GatewayErrors), the
   * socket is lost, or the signal aborts (its reason is thrown).
   */
  async watch(promptId: string, handlers: WatchHandlers, refusal: RegExp, signal: AbortSignal): Promise<WatchEnd> {
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    for (;;) {
      const item = this.#items.shift();
      if (item === undefined) {
        await Promise.race([new Promise<void>((resolve) => (this.#wake = resolve)), aborted]);
        this.#wake = null;
        continue;
      }
      signal.throwIfAborted();
      if (item.kind === 'closed') return 'lost';
      if (item.kind === 'binary') {
        // A 4-byte big-endian event type, then for previews a 4-byte image type and the image.
        if (item.data.length > 8 && item.data.readUInt32BE(0) === PREVIEW_IMAGE_EVENT) handlers.onPreview(item.data.subarray(8));
        continue;
      }
      const outcome = this.#read(item.data, promptId, handlers, refusal);
      if (outcome !== null) return outcome;
    }
  }

  /** One text message: null to go on, or how the watch ends (thrown for a failed prompt). */
  #read(text: string, promptId: string, handlers: WatchHandlers, refusal: RegExp): WatchEnd | null {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return 'lost';
    }
    const message = SocketMessageSchema.safeParse(json);
    if (!message.success) return 'lost';
    const ours = <T extends { prompt_id?: string | null | undefined }>(schema: z.ZodType<T>): T | 'lost' | null => {
      const data = schema.safeParse(message.data.data);
      if (!data.success) return 'lost';
      // Events name their prompt; one without a name on this socket is about this call's prompt.
      return data.data.prompt_id == null || data.data.prompt_id === promptId ? data.data : null;
    };
    switch (message.data.type) {
      case 'executing': {
        const data = ours(ExecutingSchema);
        if (data === 'lost') return 'lost';
        return data !== null && data.node === null ? 'done' : null;
      }
      case 'progress': {
        const data = ours(ProgressSchema);
        if (data === 'lost') return 'lost';
        if (data !== null) handlers.onProgress(data.value, data.max);
        return null;
      }
      case 'executed': {
        const data = ours(ExecutedSchema);
        if (data === 'lost') return 'lost';
        if (data !== null && data.output?.images !== undefined) handlers.onImages(String(data.node), data.output.images);
        return null;
      }
      case 'execution_error': {
        const data = ours(ExecutionErrorSchema);
        if (data === 'lost') return 'lost';
        if (data !== null) throw executionError(data, refusal);
        return null;
      }
      case 'execution_interrupted': {
        const data = ours(PromptEventSchema);
        if (data === 'lost') return 'lost';
        if (data !== null) throw interruptedError(promptId) satisfies GatewayError;
        return null;
      }
      default:
        // `status`, `execution_start`, `execution_cached`, `progress_state`, `execution_success`…
        return null;
    }
  }

  #push(item: Item): void {
    this.#items.push(item);
    this.#wake?.();
  }
}
