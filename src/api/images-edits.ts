import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type EditParams,
  type EditRequest,
  editFieldsFromForm,
  editFieldsFromJson,
  type ImageRef,
  MAX_EDIT_IMAGES,
  validateEditFields,
  validateEditImages,
} from '../contract/edit.ts';
import type { ContractSettings } from '../contract/generation.ts';
import { decodeDataUrl } from '../contract/data-url.ts';
import type { RawImage } from '../contract/input-image.ts';
import { busboyLimits, type FormLimits, formatBytes, readForm } from '../contract/multipart.ts';
import { GatewayError } from '../errors.ts';
import { downloadImage } from '../http/download.ts';
import { assertUrlAllowed, BlockedAddressError, createGuardedAgent } from '../http/guarded-agent.ts';
import { assertModelAllowed } from '../images/model-policy.ts';
import { runImages, streamImages } from '../images/run-images.ts';
import type { ImagesDeps } from '../images/types.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { whileAnswering } from './retain-until-answered.ts';
import { reportTo } from './access-log.ts';
import { requireApiKey } from './auth.ts';
import { type IdempotencyDeps, withIdempotency } from './idempotency.ts';
import { imagesAnswer } from './images-answer.ts';
import { streamToClient } from './stream-to-client.ts';

/** How much a client may upload (multipart) or send (JSON with data URLs) in one edit. */
export interface UploadLimits {
  /** Largest single file or fetched image; OpenAI's own limit for GPT image models is 50 MB. */
  readonly maxFileBytes: number;
  /** Largest sum of the files of one request. */
  readonly maxTotalBytes: number;
  /** Largest JSON edit body (its data URLs included). */
  readonly maxJsonBodyBytes: number;
  /** One timeout for downloading each `image_url`. */
  readonly downloadTimeoutMs: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  maxFileBytes: 50 * 1024 * 1024,
  maxTotalBytes: 200 * 1024 * 1024,
  maxJsonBodyBytes: 64 * 1024 * 1024,
  downloadTimeoutMs: 30_000,
};

/** Fetches a JSON edit's http(s) `image_url`; the default is the SSRF-guarded downloader. */
export type ImageFetcher = (url: string, maxBytes: number, signal: AbortSignal) => Promise<Buffer>;

export interface EditsRouteDeps {
  /** Its default model is used for edits when it can edit, else the spec's gpt-image-1.5. */
  readonly contract: ContractSettings;
  readonly images: ImagesDeps;
  readonly idempotency: IdempotencyDeps;
  readonly uploads?: Partial<UploadLimits>;
  readonly fetchImage?: ImageFetcher;
}

/** The spec's default edit model (contract notes §3). */
const SPEC_DEFAULT_EDIT_MODEL = 'gpt-image-1.5';

/**
 * `POST /v1/images/edits` (OpenAI createImageEdit): multipart/form-data, or JSON with `images`
 * as `image_url`s. Registers its own plugin scope so the multipart parser exists on this route
 * only (with file size limits), under whatever hooks (auth) the parent scope has.
 */
export function registerEditsRoute(app: FastifyInstance, deps: EditsRouteDeps): void {
  const uploads: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...deps.uploads };
  const formLimits: FormLimits = { maxFileBytes: uploads.maxFileBytes, maxTotalBytes: uploads.maxTotalBytes, maxFiles: MAX_EDIT_IMAGES + 1 };
  const editContract = editContractOf(deps.contract);

  void app.register(async (scope) => {
    await registerMultipart(scope, formLimits);
    let fetchImage = deps.fetchImage;
    if (fetchImage === undefined) {
      const agent = createGuardedAgent({ connectTimeoutMs: 10_000 });
      scope.addHook('onClose', async () => agent.close());
      fetchImage = (url, maxBytes, signal) =>
        downloadImage(url, { dispatcher: agent, allowPrivate: false, maxBytes, timeoutMs: uploads.downloadTimeoutMs, signal });
    }
    const fetcher = fetchImage;

    scope.post('/v1/images/edits', { bodyLimit: uploads.maxJsonBodyBytes }, async (request, reply) => {
      const apiKey = requireApiKey(request);
      const signal = abortOnDisconnect(reply);
      const input = await readEditInput(request, formLimits, editContract);
      // Checked before a JSON edit's images are fetched: a key may not make the gateway download for a model it may not use.
      assertModelAllowed(apiKey, input.params.model.id);
      const readImages = async (): Promise<EditRequest> => input.images((ref, maxBytes) => fetchRef(fetcher, ref, maxBytes, signal), uploads.maxFileBytes);
      return whileAnswering(reply.raw, async (retain) => {
        const caller = { apiKey, requestId: request.id, signal, report: reportTo(request), retain };
        if (input.params.stream) {
          const edit = await readImages();
          return streamToClient(request, reply, edit, 'image_edit', (open) => streamImages(deps.images, edit, caller, open));
        }
        return withIdempotency(deps.idempotency, request, reply, apiKey.id, async () => imagesAnswer(await runImages(deps.images, await readImages(), caller)));
      });
    });
  });
}

/** How edits are validated: as any request, but with the spec's edit model when the default model does not edit. */
export function editContractOf(contract: ContractSettings): ContractSettings {
  return { ...contract, defaultModel: contract.catalog.get(contract.defaultModel)?.edit != null ? contract.defaultModel : SPEC_DEFAULT_EDIT_MODEL };
}

/** @fastify/multipart on one scope, its limit errors thrown (not truncated files). */
export async function registerMultipart(scope: FastifyInstance, limits: FormLimits): Promise<void> {
  await scope.register(fastifyMultipart, { limits: busboyLimits(limits), throwFileSizeLimit: true });
}

type Fetch = (ref: ImageRef, maxBytes: number) => Promise<RawImage>;

interface EditInput {
  readonly params: EditParams;
  /** Reads (JSON: fetches) and checks the images, giving the whole validated request. */
  readonly images: (fetch: Fetch, maxFileBytes: number) => Promise<EditRequest>;
}

/**
 * The fields of either form, checked, and a deferred step for the images: a JSON edit's URLs are
 * fetched only after its fields (and the key's limits) passed.
 */
async function readEditInput(request: FastifyRequest, limits: FormLimits, contract: ContractSettings): Promise<EditInput> {
  if (request.isMultipart()) {
    const form = await readForm(request.parts(), limits);
    // The fingerprint of an Idempotency-Key is taken from the body: for a form, its digest.
    request.body = { multipart: form.digest };
    const split = editFieldsFromForm(form);
    const params = validateEditFields(split.fields, 'multipart', contract);
    return { params, images: async () => validateEditImages(params, split.images, split.mask) };
  }
  if (request.body === undefined || request.body === null) {
    throw new GatewayError(
      'missing_required_parameter',
      "Missing required parameter: 'image'. Send the image(s) as multipart/form-data, or as JSON with 'images': [{\"image_url\": …}].",
      { param: 'image' },
    );
  }
  const split = editFieldsFromJson(request.body);
  const params = validateEditFields(split.fields, 'json', contract);
  return {
    params,
    images: async (fetch, maxFileBytes) => {
      const [images, mask] = await Promise.all([
        Promise.all(split.images.map((ref) => fetch(ref, maxFileBytes))),
        split.mask === null ? null : fetch(split.mask, maxFileBytes),
      ]);
      return validateEditImages(params, images, mask);
    },
  };
}

/**
 * An `image_url`: a data URL is decoded in place; an http(s) URL is downloaded through the
 * SSRF-guarded agent (public addresses only, every redirect checked, size cap, timeout). A URL
 * that points into the gateway's own network is the client's error, a 400 naming the field.
 */
export async function fetchRef(fetcher: ImageFetcher, ref: ImageRef, maxBytes: number, signal: AbortSignal): Promise<RawImage> {
  const param = `${ref.param}.image_url`;
  const data = decodeDataUrl(ref.url, param);
  if (data !== null) {
    const { bytes, declaredType } = data;
    if (bytes.length > maxBytes) {
      throw new GatewayError('payload_too_large', `Invalid file '${ref.param}': it is larger than the ${formatBytes(maxBytes)} accepted per file.`, { param });
    }
    return { param: ref.param, bytes, declaredType, filename: '' };
  }
  let url: URL;
  try {
    url = new URL(ref.url);
  } catch {
    throw new GatewayError('invalid_value', `Invalid value for '${param}': it must be an https URL or a base64 data URL.`, { param });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new GatewayError('invalid_value', `Invalid value for '${param}': it must be an https URL or a base64 data URL, not ${url.protocol}.`, { param });
  }
  try {
    assertUrlAllowed(url, false);
    const bytes = await fetcher(url.href, maxBytes, signal);
    return { param: ref.param, bytes, declaredType: '', filename: url.pathname.split('/').at(-1) ?? '' };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw downloadError(err, ref, param, maxBytes);
  }
}

/**
 * The downloader speaks of upstream images (its usual job); here the URL is the client's, so its
 * failures become the client's 400 (or 413) naming the field.
 */
function downloadError(err: unknown, ref: ImageRef, param: string, maxBytes: number): GatewayError {
  const blocked = findBlocked(err);
  if (blocked !== null) {
    return new GatewayError('invalid_value', `Invalid value for '${param}': the gateway does not fetch this URL (${blocked.message}).`, { param, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/larger than/.test(message)) {
    return new GatewayError('payload_too_large', `Invalid file '${ref.param}': it is larger than the ${formatBytes(maxBytes)} accepted per file.`, {
      param,
      cause: err,
    });
  }
  const reason = /^Could not download the upstream image: (.*?)\.?$/.exec(message)?.[1] ?? (err instanceof GatewayError ? message : 'the download failed');
  return new GatewayError('invalid_value', `Invalid value for '${param}': the image could not be downloaded (${reason}).`, { param, cause: err });
}

function findBlocked(err: unknown): BlockedAddressError | null {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof BlockedAddressError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
