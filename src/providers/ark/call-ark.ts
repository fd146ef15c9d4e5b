import type { Dimensions } from '../../catalog/index.ts';
import { callUpstream } from '../shared/call-upstream.ts';
import { errorForStatus, malformedResponse } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage } from '../types.ts';
import { arkError, isPolicyCode } from './errors.ts';
import type { ArkOptions } from './options.ts';
import { type ArkAsk, arkBody, decodePicture, readAnswer, readErrorBody } from './wire.ts';

/** One picture Ark delivered, with the size it says it drew (null when it does not say). */
export interface ArkImage {
  readonly image: ProviderImage;
  readonly size: Dimensions | null;
}

/** The image generation API, under the channel's base URL (which ends in `/api/v3`). */
const GENERATIONS_PATH = '/images/generations';

/**
 * One synchronous call to Ark's image generation API (docs/82379/1541523): between one and
 * `ask.maxImages` pictures, or a thrown GatewayError. The API has no task to cancel: aborting the
 * signal closes the connection, which is all Ark offers.
 *
 * A set can come back short without any fault: in `auto` mode the model decides from the prompt
 * how many pictures make the set ("模型会根据用户提供的提示词自主判断是否返回组图以及组图包含的图片数量"),
 * and a picture that fails on a server error ends the set there. What arrived is returned; the
 * caller decides about the rest. A picture refused by moderation refuses the whole request: Ark
 * goes on drawing the others, but OpenAI answers a refusal with no images at all.
 */
export async function callArk(ask: ArkAsk, call: ProviderCall<ArkOptions>, signal: AbortSignal): Promise<ArkImage[]> {
  const { channel } = call;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  const response = await callUpstream(channel, {
    method: 'POST',
    url: `${channel.baseUrl}${GENERATIONS_PATH}`,
    headers,
    body: JSON.stringify(arkBody(ask, call.upstreamModel, call.options)),
    signal,
  });
  const log = { requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, upstreamRequestId: response.headers['x-request-id'] };

  if (response.status !== 200) {
    const { code, message } = readErrorBody(response);
    const error =
      code !== ''
        ? arkError(response.status, response.headers, code, message)
        : errorForStatus('ark', response.status, response.headers, `HTTP ${response.status}`);
    call.logger.warn({ ...log, upstreamCode: code, code: error.code }, 'upstream refused');
    throw error;
  }
  const answer = readAnswer(response);
  if (answer.error !== null) {
    const error = arkError(200, response.headers, answer.error.code, answer.error.message);
    call.logger.warn({ ...log, upstreamCode: answer.error.code, code: error.code }, 'upstream refused (error in an HTTP 200)');
    throw error;
  }

  const failures = answer.pictures.flatMap((picture) => (picture.kind === 'error' ? [picture] : []));
  const refusal = failures.find((failure) => isPolicyCode(failure.code));
  if (refusal !== undefined) {
    call.logger.warn({ ...log, upstreamCode: refusal.code, pictures: answer.pictures.length }, 'upstream refused a picture of the set');
    throw arkError(200, response.headers, refusal.code, refusal.message);
  }
  const made = answer.pictures.flatMap((picture) => (picture.kind === 'error' ? [] : [picture]));
  const firstFailure = failures[0];
  if (made.length === 0) {
    if (firstFailure !== undefined) throw arkError(200, response.headers, firstFailure.code, firstFailure.message);
    throw malformedResponse('ark', 'the answer holds no image');
  }
  if (firstFailure !== undefined) {
    call.logger.warn({ ...log, upstreamCode: firstFailure.code, delivered: made.length }, 'upstream ended the set early on a failed picture');
  }
  // Ark bills `generated_images` ("仅对成功生成图片按张数进行计费"); a count that disagrees with the
  // pictures in hand means the operator pays for pictures nobody received.
  if (answer.generatedImages !== null && answer.generatedImages !== made.length) {
    call.logger.warn(
      { ...log, generatedImages: answer.generatedImages, delivered: made.length },
      'upstream usage.generated_images disagrees with the pictures it sent',
    );
  }
  if (made.length > ask.maxImages) {
    call.logger.warn({ ...log, asked: ask.maxImages, delivered: made.length }, 'upstream sent more pictures than max_images; the extra ones are dropped');
  }
  call.logger.debug({ ...log, asked: ask.maxImages, delivered: made.length }, 'upstream answered');

  return Promise.all(
    made.slice(0, ask.maxImages).map(async (picture): Promise<ArkImage> => {
      // Seedream 4.x delivers JPEG only, 5.0-lite too unless asked otherwise (never here).
      if (picture.kind === 'b64') return { image: { bytes: decodePicture(picture.base64), base64: picture.base64, mime: 'image/jpeg' }, size: picture.size };
      // TOS links last 24 hours ("链接在图片生成后24小时内有效"): fetched now, never handed on.
      return { image: { bytes: await channel.http.download(picture.url, signal), mime: 'image/jpeg' }, size: picture.size };
    }),
  );
}
