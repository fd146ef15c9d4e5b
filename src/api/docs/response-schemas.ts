import { z } from 'zod';

/*
 * The answers of the public routes, as zod schemas, for the OpenAPI document only (the routes
 * build their answers in code). Every object is closed (`additionalProperties: false` in the
 * document), so the tests that check real answers against the document fail on a field the
 * document does not describe, in either direction: this file cannot drift from the routes unseen.
 */

const int = () => z.number().int();
const unixSeconds = (what: string) => int().min(0).describe(`${what}, in unix seconds.`);
const usd = (what: string) => z.number().min(0).describe(`${what}, in US dollars.`);

export const UsageSchema = z.object({
  input_tokens: int(),
  input_tokens_details: z.object({ text_tokens: int(), image_tokens: int() }),
  output_tokens: int(),
  total_tokens: int(),
});

const ImageDataSchema = z.union([
  z.object({
    url: z.url().describe('A signed link to the image (imagegate gives links for every model, GPT image models included).'),
    revised_prompt: z.string().optional(),
  }),
  z.object({ b64_json: z.string().describe('The image, base64-encoded.'), revised_prompt: z.string().optional() }),
]);

const imagesResponseShape = {
  created: unixSeconds('When the images were made'),
  data: z.array(ImageDataSchema),
  background: z.enum(['transparent', 'opaque']).optional(),
  output_format: z.string().optional(),
  quality: z.string().optional(),
  size: z.string().optional().describe('The delivered size, WxH; also sent whenever it differs from the size asked.'),
  usage: UsageSchema.optional(),
};

export const ImagesResponseSchema = z.object(imagesResponseShape);

export const ErrorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

export const JobSchema = z.object({
  id: z.string(),
  object: z.literal('image.generation.job'),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  created: unixSeconds('When the job was accepted'),
});

/** A finished job: the synchronous answer (or error) with the job's id and final status beside it. */
export const JobResultSchema = z.union([
  z.object({ id: z.string(), status: z.literal('succeeded'), ...imagesResponseShape }),
  z.object({ id: z.string(), status: z.literal('failed'), error: ErrorSchema.shape.error }),
]);

const PriceSchema = z.union([
  z.object({
    kind: z.literal('per_image'),
    usd_per_image: z.record(z.string(), z.record(z.string(), z.number())).describe("USD per image by quality, then size ('*': any size)."),
    source: z.string(),
  }),
  z.object({
    kind: z.literal('per_token'),
    usd_per_million_text_input: z.number(),
    usd_per_million_image_input: z.number(),
    usd_per_million_image_output: z.number(),
    source: z.string(),
  }),
]);

const ModelCapabilitiesSchema = z
  .object({
    alias_of: z.string().optional(),
    provider: z.string(),
    providers: z.array(z.string()),
    sizes: z.array(z.string()),
    size_aliases: z.record(z.string(), z.string()).optional(),
    size_rule: z.object({ multiple_of: int(), max_edge_px: int(), min_pixels: int(), max_pixels: int(), max_aspect_ratio: z.number() }).optional(),
    aspect_ratios: z.array(z.string()).optional(),
    resolutions: z.array(z.string()).optional(),
    default_aspect_ratio: z.string().optional(),
    default_resolution: z.string().optional(),
    default_size: z.string(),
    n: z.object({ min: int(), max: int() }),
    prompt_max_chars: int(),
    qualities: z.array(z.string()),
    styles: z.array(z.string()),
    response_formats: z.array(z.enum(['url', 'b64_json'])),
    default_response_format: z.enum(['url', 'b64_json']),
    output_formats: z.array(z.string()),
    output_format_selectable: z.boolean(),
    backgrounds: z.array(z.string()),
    moderation: z.boolean(),
    streaming: z.boolean(),
    edits: z.boolean(),
    edit_input: z
      .object({
        formats: z.array(z.string()),
        max_images: int(),
        max_file_bytes: int(),
        square: z.boolean(),
        json: z.boolean(),
        input_fidelities: z.array(z.string()),
      })
      .nullable(),
    variations: z.boolean(),
    seed: z.boolean(),
    negative_prompt_max_chars: int().nullable(),
    usage_reported: z.boolean(),
    price: PriceSchema,
  })
  .describe("What the model takes (the request fields and their values) and how it is priced: imagegate's addition to OpenAI's model object.");

export const ModelSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: unixSeconds('When this catalog was published'),
  owned_by: z.string(),
  imagegate: ModelCapabilitiesSchema,
});

export const ModelListSchema = z.object({ object: z.literal('list'), data: z.array(ModelSchema) });

export const StoredImageSchema = z.object({
  id: z.string(),
  object: z.literal('image'),
  created: unixSeconds('When the image was made'),
  request_id: z.string(),
  model: z.string(),
  provider: z.string(),
  output_format: z.string(),
  size: z.string(),
  bytes: int().min(0),
  url: z.url(),
  url_expires_at: unixSeconds('When the link expires'),
  expires_at: unixSeconds('When the image is deleted'),
});

export const StoredImageListSchema = z.object({
  object: z.literal('list'),
  data: z.array(StoredImageSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});

const usageReportShape = {
  object: z.literal('usage'),
  from: unixSeconds('Start of the range (inclusive)'),
  to: unixSeconds('End of the range (exclusive)'),
  data: z.array(
    z.object({
      date: z.string().describe('UTC day, YYYY-MM-DD.'),
      api_key_id: z.string(),
      model: z.string(),
      requests: int(),
      images: int(),
      spend_usd: usd('Charged'),
    }),
  ),
  totals: z.object({ requests: int(), images: int(), spend_usd: usd('Charged') }),
};

export const KeyUsageSchema = z.object({
  ...usageReportShape,
  api_key_id: z.string(),
  budget_usd: usd('The key’s budget').nullable(),
  committed_usd: usd('Spent and held so far'),
});

export const AdminUsageSchema = z.object(usageReportShape);

const keyShape = {
  id: z.string(),
  object: z.literal('api_key'),
  display_prefix: z.string(),
  name: z.string(),
  role: z.enum(['user', 'admin']),
  created_at: unixSeconds('Created'),
  revoked_at: unixSeconds('Revoked').nullable(),
  expires_at: unixSeconds('Expires').nullable(),
  allowed_models: z.array(z.string()).nullable(),
  budget_usd: usd('Budget').nullable(),
  committed_usd: usd('Spent and held so far'),
  requests_per_minute: int().nullable(),
  images_per_minute: int().nullable(),
  max_concurrent: int().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  organization_id: z.string().nullable().describe('The customer organisation the key belongs to, if any'),
};

export const KeySchema = z.object(keyShape);
export const CreatedKeySchema = z.object({ ...keyShape, key: z.string().describe('The key itself, shown this once only.') });
export const KeyListSchema = z.object({ object: z.literal('list'), data: z.array(KeySchema) });

export const QuoteSchema = z.object({
  object: z.literal('image.quote'),
  model: z.string().describe('The catalog model the request resolves to (aliases resolved).'),
  n: int().min(1),
  size: z.string().describe('The size that would be asked for, WxH (auto and aspect ratios resolved).'),
  quality: z.string().describe('The resolved quality (never auto).'),
  currency: z.literal('USD'),
  max_cost_usd: usd('The most the request can be charged: exactly the budget hold the real request takes'),
  expected_cost_usd: usd("What it costs when the upstream's usage matches the catalog's token table"),
  expected_usage: UsageSchema.optional().describe('Token-priced models: the usage the expected cost assumes.'),
  price: z.union([
    z.object({ rule: z.literal('per_image'), usd_per_image: usd('One image at this quality and size'), source: z.string() }),
    z.object({
      rule: z.literal('per_token'),
      usd_per_million_text_input: z.number(),
      usd_per_million_image_input: z.number(),
      usd_per_million_image_output: z.number(),
      source: z.string(),
    }),
  ]),
});

export const HealthSchema = z.object({ status: z.string() });
