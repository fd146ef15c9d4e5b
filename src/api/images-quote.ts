import type { FastifyInstance } from 'fastify';
import { editFieldsFromJson, validateEditFields, validateEditImages } from '../contract/edit.ts';
import { type ContractSettings, validateGeneration } from '../contract/generation.ts';
import type { ImagesRequest } from '../contract/images-request.ts';
import { downloadImage } from '../http/download.ts';
import { createGuardedAgent } from '../http/guarded-agent.ts';
import { assertModelAllowed } from '../images/model-policy.ts';
import { type PriceQuote, quoteRequest } from '../images/price-quote.ts';
import type { ApiKey } from '../keys/api-key.ts';
import { reportTo } from './access-log.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { requireApiKey } from './auth.ts';
import { DEFAULT_UPLOAD_LIMITS, editContractOf, fetchRef, type ImageFetcher, type UploadLimits } from './images-edits.ts';

export interface QuoteRouteDeps {
  readonly contract: ContractSettings;
  readonly uploads?: Partial<UploadLimits>;
  /** Fetches an edit's http(s) `image_url`; the default is the SSRF-guarded downloader, as for edits. */
  readonly fetchImage?: ImageFetcher;
}

/**
 * `POST /v1/images/quote` (imagegate's own): the JSON body of a generation, or of a JSON edit
 * (`images: [{image_url}]`, told apart by `images`), answered with what it would cost, without
 * calling any upstream and without holding or charging anything. It is validated exactly as the
 * real request (the same errors for the same mistakes, the key's model policy included), and its
 * `max_cost_usd` is the budget hold that request would take.
 *
 * An edit's images are read (data URLs decoded, https URLs fetched) because its `size: auto` and,
 * for token-priced models, its input tokens depend on them. Edits are quoted for every model that
 * edits, those whose real edits are multipart-only included: a quote needs the images' dimensions,
 * not the form they came in.
 */
export function registerQuoteRoute(app: FastifyInstance, deps: QuoteRouteDeps): void {
  const uploads: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...deps.uploads };
  const editContract = editContractOf(deps.contract);
  let fetchImage = deps.fetchImage;
  if (fetchImage === undefined) {
    const agent = createGuardedAgent({ connectTimeoutMs: 10_000 });
    app.addHook('onClose', async () => agent.close());
    fetchImage = (url, maxBytes, signal) =>
      downloadImage(url, { dispatcher: agent, allowPrivate: false, maxBytes, timeoutMs: uploads.downloadTimeoutMs, signal });
  }
  const fetcher = fetchImage;

  const readEdit = async (body: unknown, apiKey: ApiKey, signal: AbortSignal): Promise<ImagesRequest> => {
    const split = editFieldsFromJson(body);
    // Checked as a multipart edit (which every editing model takes), then named as the JSON edit
    // it is where the model takes JSON edits, so errors name `images` as a real JSON edit does.
    const fields = validateEditFields(split.fields, 'multipart', editContract);
    const params = fields.rules.json ? { ...fields, form: 'json' as const } : fields;
    // As for a real edit: a key may not make the gateway download images for a model it may not use.
    assertModelAllowed(apiKey, params.model.id);
    const [images, mask] = await Promise.all([
      Promise.all(split.images.map((ref) => fetchRef(fetcher, ref, uploads.maxFileBytes, signal))),
      split.mask === null ? null : fetchRef(fetcher, split.mask, uploads.maxFileBytes, signal),
    ]);
    return validateEditImages(params, images, mask);
  };

  app.post('/v1/images/quote', { bodyLimit: uploads.maxJsonBodyBytes }, async (request, reply) => {
    const apiKey = requireApiKey(request);
    const body = request.body;
    const quoted = isEditBody(body) ? await readEdit(body, apiKey, abortOnDisconnect(reply)) : validateGeneration(body, deps.contract);
    assertModelAllowed(apiKey, quoted.model.id);
    reportTo(request)({ model: quoted.model.id, n: quoted.n, prompt: quoted.prompt });
    return quoteBody(quoteRequest(quoted));
  });
}

function isEditBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'images');
}

/** The quote as the API answers it: money in US dollars, rounded to the micro-dollar the ledger counts in. */
export function quoteBody(quote: PriceQuote) {
  const usd = (microUsd: number): number => microUsd / 1_000_000;
  const { price } = quote;
  return {
    object: 'image.quote',
    model: quote.model,
    n: quote.n,
    size: quote.size,
    quality: quote.quality,
    currency: 'USD',
    max_cost_usd: usd(quote.maxCostMicroUsd),
    expected_cost_usd: usd(quote.expectedCostMicroUsd),
    ...(quote.expectedUsage === null ? {} : { expected_usage: quote.expectedUsage }),
    price:
      price.kind === 'per_image'
        ? { rule: price.kind, usd_per_image: quote.usdPerImage ?? 0, source: quote.priceSource }
        : {
            rule: price.kind,
            usd_per_million_text_input: price.usdPerMillionTextInput,
            usd_per_million_image_input: price.usdPerMillionImageInput,
            usd_per_million_image_output: price.usdPerMillionImageOutput,
            source: quote.priceSource,
          },
  };
}
