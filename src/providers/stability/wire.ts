import { z } from 'zod';
import type { OutputFormat } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { mimeOf } from '../../media/sniff.ts';
import { callUpstream, decodeBase64Image, parseJson } from '../shared/call-upstream.ts';
import { encodeMultipart, type FormPart } from '../shared/multipart-form.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage } from '../types.ts';
import { readErrorBody, stabilityError } from './errors.ts';

const PROVIDER = 'stability';

/** Where a call goes, which `output_format` values it takes, and whether the form names a model. */
export interface Endpoint {
  readonly path: string;
  readonly formats: readonly OutputFormat[];
  /** The `model` field (the SD3 endpoint serves several models); null when the path decides. */
  readonly model: string | null;
}

const ALL_FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp'];

/** Stability's Inpaint service: `image` + `mask` (+ prompt, negative_prompt, seed, output_format). */
export const INPAINT: Endpoint = { path: '/v2beta/stable-image/edit/inpaint', formats: ALL_FORMATS, model: null };

/**
 * The generate endpoint for the channel's upstream model (API reference, "Generate"): `ultra` and
 * `core` are endpoints of their own; SD 3.5 models (`sd3.5-large`, `sd3.5-large-turbo`,
 * `sd3.5-medium`, `sd3.5-flash`, …) share `/sd3` and are named by its `model` field, which
 * writes png or jpeg only.
 */
export function generateEndpoint(upstreamModel: string): Endpoint {
  if (upstreamModel === 'ultra' || upstreamModel === 'core') {
    return { path: `/v2beta/stable-image/generate/${upstreamModel}`, formats: ALL_FORMATS, model: null };
  }
  if (upstreamModel.startsWith('sd3')) return { path: '/v2beta/stable-image/generate/sd3', formats: ['png', 'jpeg'], model: upstreamModel };
  throw new GatewayError(
    'upstream_configuration_error',
    `A channel maps a model to '${upstreamModel}', which Stability does not serve; use ultra, core or an SD 3.5 model name such as sd3.5-large.`,
  );
}

/** The format to ask for: the client's when the endpoint writes it, else PNG (the gateway transcodes). */
export function wireFormat(endpoint: Endpoint, requested: OutputFormat): OutputFormat {
  return endpoint.formats.includes(requested) ? requested : 'png';
}

/**
 * The JSON answer (`Accept: application/json`): the image as base64, why generation finished,
 * and the seed used. A `CONTENT_FILTERED` answer still carries an image (blurred by Stability),
 * which must never be delivered (API reference, "Response"; provider notes §5, §11).
 */
const AnswerSchema = z.looseObject({
  image: z.string().optional(),
  finish_reason: z.string(),
  seed: z.number().optional(),
});

/**
 * Posts one form to Stability and reads the one image it answers with.
 *
 * `Accept: application/json` rather than `image/*`: the answer is then one body that a zod schema
 * reads whole (finish reason, seed and image together, where `image/*` puts the finish reason in
 * a header that proxies may drop), a body cut short fails to parse and is retried instead of
 * reaching the media step, and the upstream's base64 is reused as is when the client asked for
 * `b64_json`. The price is a third more bytes on the wire.
 */
export async function postForm(call: ProviderCall<unknown>, endpoint: Endpoint, parts: readonly FormPart[], format: OutputFormat): Promise<ProviderImage> {
  const { channel } = call;
  const { body, contentType } = encodeMultipart(parts);
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': contentType };
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  const response = await callUpstream(channel, { method: 'POST', url: `${channel.baseUrl}${endpoint.path}`, headers, body, signal: call.signal });

  const log = {
    requestId: call.requestId,
    channel: channel.id,
    upstreamStatus: response.status,
    path: endpoint.path,
    upstreamRequestId: response.headers['x-request-id'],
  };
  if (response.status !== 200) {
    const errorBody = readErrorBody(response.status, response.text);
    const error = stabilityError(response.status, response.headers, errorBody);
    call.logger.warn({ ...log, upstreamErrorId: errorBody.id, upstreamErrorName: errorBody.name, code: error.code }, 'upstream refused');
    throw error;
  }
  const answer = parseWire(PROVIDER, AnswerSchema, parseJson(PROVIDER, response.text), 'the generation answer');
  switch (answer.finish_reason) {
    case 'SUCCESS':
      break;
    case 'CONTENT_FILTERED':
      // HTTP 200 with a blurred image: Stability's output moderation refused the picture.
      call.logger.warn({ ...log, finishReason: answer.finish_reason }, 'upstream refused (content filtered in an HTTP 200)');
      throw contentPolicyError(PROVIDER, 'the generated image was filtered (finish_reason CONTENT_FILTERED).');
    default:
      throw malformedResponse(PROVIDER, `unknown finish_reason ${JSON.stringify(answer.finish_reason)}`);
  }
  if (answer.image === undefined) throw malformedResponse(PROVIDER, 'a successful answer has no image');
  call.logger.debug({ ...log, seed: answer.seed }, 'upstream answered');
  return { bytes: decodeBase64Image(PROVIDER, answer.image), base64: answer.image, mime: mimeOf(format) };
}
