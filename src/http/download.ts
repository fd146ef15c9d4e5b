import { type Dispatcher, request } from 'undici';
import { GatewayError } from '../errors.ts';
import { decodedBody } from './decode-body.ts';
import { assertUrlAllowed, BlockedAddressError } from './guarded-agent.ts';

export interface DownloadOptions {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** The guarded agent for public-only downloads, or a plain one for channels marked local. */
  readonly dispatcher: Dispatcher;
  readonly allowPrivate: boolean;
  readonly maxRedirects?: number;
}

/**
 * Downloads an image an upstream pointed at (DashScope, BFL and others answer with short-lived
 * URLs). Every hop is checked again: the redirect target must pass the same address policy, so a
 * public URL cannot bounce the gateway into its own network. The body is read with a hard size
 * cap and one timeout for the whole download.
 */
export async function downloadImage(url: string, options: DownloadOptions): Promise<Buffer> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  let current = new URL(url);
  for (let hop = 0; hop <= (options.maxRedirects ?? 3); hop += 1) {
    try {
      assertUrlAllowed(current, options.allowPrivate);
      const response = await request(current, { method: 'GET', dispatcher: options.dispatcher, signal });
      if (response.statusCode >= 300 && response.statusCode < 400) {
        await response.body.dump();
        // undici.request never follows redirects itself; each hop comes back here to be checked.
        const location = response.headers['location'];
        if (typeof location !== 'string') throw downloadFailed(`redirect without a location (${response.statusCode})`);
        current = new URL(location, current);
        continue;
      }
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw downloadFailed(`the image URL answered ${response.statusCode}`);
      }
      const declared = Number(response.headers['content-length'] ?? Number.NaN);
      if (declared > options.maxBytes) {
        await response.body.dump();
        throw downloadFailed(`the image is larger than ${options.maxBytes} bytes`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of decodedBody(response.body, response.headers['content-encoding'], 'image host')) {
        const buffer = chunk as Buffer;
        total += buffer.length;
        if (total > options.maxBytes) {
          response.body.destroy();
          throw downloadFailed(`the image is larger than ${options.maxBytes} bytes`);
        }
        chunks.push(buffer);
      }
      return Buffer.concat(chunks, total);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      if (options.signal.aborted) throw options.signal.reason;
      if (err instanceof BlockedAddressError || (err as { cause?: unknown }).cause instanceof BlockedAddressError) {
        throw new GatewayError('upstream_error', `The upstream returned an image URL the gateway will not fetch: ${(err as Error).message}.`, {
          cause: err,
        });
      }
      if (signal.aborted) throw new GatewayError('upstream_timeout', 'Downloading the upstream image timed out.', { retryable: true, cause: err });
      throw downloadFailed((err as Error).message, err);
    }
  }
  throw downloadFailed('too many redirects');
}

function downloadFailed(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('upstream_error', `Could not download the upstream image: ${reason}.`, { retryable: true, cause });
}
