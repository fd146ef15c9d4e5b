import { z } from 'zod';
import packageJson from '../../../package.json' with { type: 'json' };
import type { Catalog } from '../../catalog/index.ts';
import { EditFieldsSchema, JsonEditSchema } from '../../contract/edit.ts';
import { CreateImageRequestSchema } from '../../contract/generation.ts';
import { KeySettingsSchema } from '../../contract/key-settings.ts';
import { VariationFieldsSchema } from '../../contract/variation.ts';
import {
  AdminUsageSchema,
  CreatedKeySchema,
  ErrorSchema,
  HealthSchema,
  ImagesResponseSchema,
  JobResultSchema,
  JobSchema,
  KeyListSchema,
  KeySchema,
  KeyUsageSchema,
  ModelListSchema,
  ModelSchema,
  QuoteSchema,
  StoredImageListSchema,
  StoredImageSchema,
  UsageSchema,
} from './response-schemas.ts';

/*
 * The OpenAPI 3.1 document of every public route. Request bodies are converted from the very zod
 * schemas the contract validates with (`z.toJSONSchema`), so a field added there appears here;
 * answers come from `response-schemas.ts`, which the tests check real answers against. What
 * imagegate adds to OpenAI's API is marked: operations, fields, parameters and headers carry
 * `x-imagegate-extension: true`, and OpenAI fields that behave beyond OpenAI carry
 * `x-imagegate-note`. Request fields are marked by comparison with OpenAI's own field lists below,
 * so a new field is an extension until it is listed as OpenAI's.
 */

type JsonSchema = Record<string, unknown>;

/** The fields of OpenAI's CreateImageRequest, CreateImageEditRequest (both forms) and CreateImageVariationRequest. */
const OPENAI_FIELDS = {
  generation: [
    'prompt',
    'model',
    'n',
    'quality',
    'response_format',
    'output_format',
    'output_compression',
    'stream',
    'partial_images',
    'size',
    'moderation',
    'background',
    'style',
    'user',
    'safety_identifier',
  ],
  edit: [
    'prompt',
    'image',
    'images',
    'mask',
    'model',
    'n',
    'size',
    'quality',
    'response_format',
    'output_format',
    'output_compression',
    'background',
    'input_fidelity',
    'moderation',
    'user',
    'safety_identifier',
    'stream',
    'partial_images',
  ],
  variation: ['image', 'model', 'n', 'size', 'response_format', 'user'],
} as const;

/** Words for request fields (the contract's schemas check types; the catalog holds each model's values). */
const FIELD_DOCS: Readonly<Record<string, string>> = {
  prompt: 'What to draw. Its longest length depends on the model (`prompt_max_chars` in /v1/models).',
  model: 'A model id or alias from GET /v1/models; the server default when left out.',
  n: 'How many images, 1 to the model’s `n.max`.',
  size: 'WxH, `auto`, or a size the model maps (aspect-ratio models take any WxH and pick the nearest ratio).',
  quality: 'One of the model’s `qualities`.',
  response_format: '`url` or `b64_json`.',
  stream: 'Answer as server-sent events (models with `streaming: true`).',
  partial_images: 'Partial images per image while streaming, 0 to 3.',
  seed: 'A seed, for models with `seed: true`.',
  negative_prompt: 'What to keep out of the picture, for models with `negative_prompt_max_chars`.',
  aspect_ratio: 'W:H, for aspect-ratio models (`aspect_ratios` in /v1/models); instead of `size`.',
  resolution: 'A resolution tier such as 1K or 2K, for aspect-ratio models (`resolutions`).',
  webhook_url: 'With `Prefer: respond-async` only: called with the job’s result when it finishes.',
};

const NOTES: Readonly<Record<string, string>> = {
  response_format: 'imagegate answers `url` for every model, GPT image models included (OpenAI gives those `b64_json` only).',
};

/** A converted zod schema without the parts that belong to a standalone JSON Schema document. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonSchema = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '$schema' || key === '$id') continue;
    // zod states the safe-integer range on every integer; it says nothing to a reader.
    if ((key === 'minimum' && item === Number.MIN_SAFE_INTEGER) || (key === 'maximum' && item === Number.MAX_SAFE_INTEGER)) continue;
    out[key] = clean(item);
  }
  return out;
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = clean(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
  if (typeof converted !== 'object' || converted === null || Array.isArray(converted)) throw new Error('a zod object converts to a JSON object');
  return { ...converted };
}

function propertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
  const properties = schema['properties'];
  if (typeof properties !== 'object' || properties === null) return {};
  const out: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries(properties as Record<string, unknown>)) {
    if (typeof property === 'object' && property !== null) out[name] = { ...property };
  }
  return out;
}

/**
 * A request body schema with each field documented and, where the route is OpenAI's, the fields
 * OpenAI does not have marked (`openai` null: the whole route is imagegate's, as marked on it).
 */
function requestBody(schema: z.ZodType, openai: readonly string[] | null, extra: Readonly<Record<string, JsonSchema>> = {}): JsonSchema {
  const converted = toSchema(schema, 'input');
  const properties: Record<string, JsonSchema> = { ...propertiesOf(converted), ...extra };
  for (const [name, property] of Object.entries(properties)) {
    const description = FIELD_DOCS[name];
    const note = NOTES[name];
    properties[name] = {
      ...property,
      ...(description === undefined || 'description' in property ? {} : { description }),
      ...(openai === null || openai.includes(name) ? {} : { 'x-imagegate-extension': true }),
      ...(note === undefined ? {} : { 'x-imagegate-note': note }),
    };
  }
  return { ...converted, properties };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** A JSON body or answer; `example` is what the reference page's "Try it out" starts from. */
const json = (schema: JsonSchema, example?: JsonSchema) => ({ 'application/json': { schema, ...(example === undefined ? {} : { example }) } });
const binary = { type: 'string', format: 'binary' };
const imageUrlRef = {
  type: 'object',
  properties: { image_url: { type: 'string', description: 'An https URL or a base64 data URL of the image.' } },
  required: ['image_url'],
  additionalProperties: false,
};

const header = (description: string, extension = true) => ({
  description,
  schema: { type: 'string' },
  ...(extension ? { 'x-imagegate-extension': true } : {}),
});

const COMMON_HEADERS = { 'x-request-id': header('The request id, also in the log and in 500 messages.') };

const RATE_HEADERS = Object.fromEntries(
  ['requests', 'images'].flatMap((unit) => [
    [`x-ratelimit-limit-${unit}`, header(`The key’s ${unit} per minute.`, false)],
    [`x-ratelimit-remaining-${unit}`, header(`${unit} left in the current minute.`, false)],
    [`x-ratelimit-reset-${unit}`, header('When the allowance is whole again (1s, 6m0s).', false)],
  ]),
);

const IMAGES_HEADERS = {
  ...COMMON_HEADERS,
  ...RATE_HEADERS,
  'x-imagegate-provider': header('The provider that made the images.'),
  'x-imagegate-channel': header('The configured channel that made them.'),
  'x-imagegate-attempts': header('Upstream calls made, retries and fan-out included.'),
  'x-imagegate-cost-usd': header('What the request was charged, in US dollars.'),
  'x-imagegate-delivered-size': header('The delivered WxH, when it differs from the size asked.'),
  'x-imagegate-dropped-params': header('Fields the model does not take, left out (server.unsupportedParams: drop).'),
  'idempotent-replayed': header('true when this is the replay of an earlier answer (Idempotency-Key).'),
};

const errors = { default: { description: 'An error in OpenAI’s envelope.', headers: COMMON_HEADERS, content: json(ref('Error')) } };

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'The same key and body within 24 hours replays the first answer without a second upstream call or charge.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  'x-imagegate-extension': true,
};

const pathId = (what: string) => ({ name: 'id', in: 'path', required: true, description: what, schema: { type: 'string' } });

const usageRange = [
  {
    name: 'from',
    in: 'query',
    required: false,
    description: 'Unix seconds or a YYYY-MM-DD day (UTC); 30 days before `to` by default.',
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    required: false,
    description: 'Unix seconds (exclusive) or a YYYY-MM-DD day (inclusive); now by default.',
    schema: { type: 'string' },
  },
];

const streamContent = (prefix: string) => ({
  'text/event-stream': {
    schema: {
      type: 'string',
      description: `With \`stream: true\`: \`${prefix}.partial_image\` events (PartialImageEvent), one \`${prefix}.completed\` event per image (CompletedImageEvent), or an \`error\` event (Error).`,
    },
  },
});

const imagesAnswer = (prefix: string) => ({
  '200': { description: 'The images.', headers: IMAGES_HEADERS, content: { ...json(ref('ImagesResponse')), ...streamContent(prefix) } },
  ...errors,
});

const GENERATION_EXAMPLE = { model: 'gpt-image-1', prompt: 'A lighthouse on a cliff at night', size: '1024x1024', quality: 'low' };

const user = [{ userKey: [] }];
const admin = [{ adminKey: [] }];
const extension = { 'x-imagegate-extension': true };

/** An admin operation answering a JSON object (the reseller, channel and audit routes; their bodies are described in the README). */
const adminOperation = (operationId: string, summary: string, options: { path?: boolean; body?: boolean; query?: readonly string[] } = {}) => ({
  operationId,
  tags: ['admin'],
  summary,
  ...extension,
  security: admin,
  parameters: [
    ...(options.path === true ? [pathId('The id.')] : []),
    ...(options.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
  ],
  ...(options.body === true ? { requestBody: { required: true, content: json({ type: 'object' }) } } : {}),
  responses: { '200': { description: 'The answer.', headers: COMMON_HEADERS, content: json({ type: 'object' }) }, ...errors },
});
const probe = (operationId: string, summary: string) => ({
  get: {
    operationId,
    tags: ['operations'],
    summary,
    ...extension,
    security: [],
    responses: { '200': { description: 'Serving.', content: json(ref('Health')) }, '503': { description: 'Not serving.' } },
  },
});

export interface OpenApiSettings {
  readonly catalog: Catalog;
  readonly defaultModel: string;
}

/** Built once per app: the catalog's models are listed as examples of `model`. */
export function buildOpenApiDocument(settings: OpenApiSettings): JsonSchema {
  const models = [...settings.catalog.all().map((model) => model.id), ...settings.catalog.aliases().keys()];
  const withModels = (schema: JsonSchema): JsonSchema => {
    const properties = propertiesOf(schema);
    const model = properties['model'];
    if (model !== undefined)
      properties['model'] = { ...model, examples: models, description: `${FIELD_DOCS['model'] ?? ''} Default: ${settings.defaultModel}.` };
    return { ...schema, properties };
  };
  const generationBody = withModels(requestBody(CreateImageRequestSchema, OPENAI_FIELDS.generation));
  // `webhook_url` is taken by async generations only (their route takes it off before validating).
  const generation = withModels(
    requestBody(CreateImageRequestSchema, OPENAI_FIELDS.generation, { webhook_url: { type: 'string', format: 'uri', maxLength: 2048 } }),
  );
  const jsonEdit = withModels(
    requestBody(JsonEditSchema, OPENAI_FIELDS.edit, { images: { type: 'array', items: imageUrlRef, minItems: 1 }, mask: imageUrlRef }),
  );
  const multipartEdit = withModels(
    requestBody(EditFieldsSchema, OPENAI_FIELDS.edit, {
      image: {
        description: "One file, or several as repeated 'image', 'image[]' or 'image[0]', 'image[1]' …",
        anyOf: [binary, { type: 'array', items: binary }],
      },
      mask: { ...binary, description: 'A PNG whose transparent pixels mark where to edit.' },
    }),
  );
  const variation = withModels(requestBody(VariationFieldsSchema, OPENAI_FIELDS.variation, { image: { ...binary, description: 'A square PNG under 4 MB.' } }));
  const requiredOf = (schema: JsonSchema, add: string[]): JsonSchema => {
    const required: unknown = schema['required'];
    return { ...schema, required: [...(Array.isArray(required) ? required.filter((name) => typeof name === 'string') : []), ...add] };
  };

  const streamEvent = (kind: 'partial' | 'completed'): JsonSchema => ({
    type: 'object',
    properties: {
      type: {
        type: 'string',
        enum: kind === 'partial' ? ['image_generation.partial_image', 'image_edit.partial_image'] : ['image_generation.completed', 'image_edit.completed'],
      },
      b64_json: { type: 'string' },
      created_at: { type: 'integer' },
      size: { type: 'string' },
      quality: { type: 'string' },
      background: { type: 'string' },
      output_format: { type: 'string' },
      ...(kind === 'partial' ? { partial_image_index: { type: 'integer' } } : { usage: ref('Usage') }),
    },
    required: ['type', 'b64_json', 'created_at', 'size', 'quality', 'background', 'output_format', ...(kind === 'partial' ? ['partial_image_index'] : [])],
    additionalProperties: false,
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'imagegate',
      version: packageJson.version,
      summary: 'An OpenAI-compatible image API in front of many image models and providers.',
      description:
        "OpenAI's images API (generations, edits, variations, models) with one key for every model, plus imagegate's own routes and fields, each marked `x-imagegate-extension`. Send the key as `Authorization: Bearer …`. Every error is OpenAI's envelope `{error: {message, type, param, code}}`.",
      license: { name: packageJson.license, identifier: packageJson.license },
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'images', description: 'Make images' },
      { name: 'models', description: 'What each model takes' },
      { name: 'account', description: 'A key’s own images and usage' },
      { name: 'admin', description: 'Keys and usage, with an admin key' },
      { name: 'operations', description: 'Health, metrics, this document' },
    ],
    security: user,
    paths: {
      '/v1/images/generations': {
        post: {
          operationId: 'createImage',
          tags: ['images'],
          summary: 'Create images from a prompt',
          description:
            'OpenAI’s createImage. With `Prefer: respond-async` the request is accepted as a job (202) and its answer is fetched from GET /v1/images/generations/{id} (or sent to `webhook_url`).',
          parameters: [
            idempotencyKey,
            {
              name: 'Prefer',
              in: 'header',
              required: false,
              description: '`respond-async` makes the request a job: 202 with its id and `Location`.',
              schema: { type: 'string', examples: ['respond-async'] },
              'x-imagegate-extension': true,
            },
          ],
          requestBody: { required: true, content: json(generation, GENERATION_EXAMPLE) },
          responses: {
            ...imagesAnswer('image_generation'),
            '202': {
              description: 'Accepted as a job (`Prefer: respond-async`).',
              headers: { ...COMMON_HEADERS, location: header('Where the job’s answer will be.', false) },
              content: json(ref('Job')),
              'x-imagegate-extension': true,
            },
          },
        },
      },
      '/v1/images/generations/{id}': {
        get: {
          operationId: 'getImageJob',
          tags: ['images'],
          summary: 'An async job: its status, or its answer once done',
          ...extension,
          parameters: [pathId('The job id.')],
          responses: {
            '200': {
              description: 'The job succeeded: the answer a synchronous call would have given, with `id` and `status`.',
              headers: COMMON_HEADERS,
              content: json(ref('JobResult')),
            },
            '202': { description: 'Queued or running.', headers: COMMON_HEADERS, content: json(ref('Job')) },
            default: {
              description: 'The job failed (its error, with `id` and `status`), or there is no such job.',
              headers: COMMON_HEADERS,
              content: json({ anyOf: [ref('JobResult'), ref('Error')] }),
            },
          },
        },
      },
      '/v1/images/edits': {
        post: {
          operationId: 'createImageEdit',
          tags: ['images'],
          summary: 'Edit or extend images',
          description:
            'OpenAI’s createImageEdit: multipart/form-data with files, or JSON with `images` as `image_url`s (models whose `edit_input.json` is true).',
          parameters: [idempotencyKey],
          requestBody: {
            required: true,
            content: { 'multipart/form-data': { schema: requiredOf(multipartEdit, ['image']) }, ...json(requiredOf(jsonEdit, ['images'])) },
          },
          responses: imagesAnswer('image_edit'),
        },
      },
      '/v1/images/variations': {
        post: {
          operationId: 'createImageVariation',
          tags: ['images'],
          summary: 'Variations of an image (dall-e-2)',
          parameters: [idempotencyKey],
          requestBody: { required: true, content: { 'multipart/form-data': { schema: requiredOf(variation, ['image']) } } },
          responses: { '200': { description: 'The images.', headers: IMAGES_HEADERS, content: json(ref('ImagesResponse')) }, ...errors },
        },
      },
      '/v1/images/quote': {
        post: {
          operationId: 'quoteImages',
          tags: ['images'],
          summary: 'What a request would cost, without making it',
          description:
            'The JSON body of a generation, or of a JSON edit (told apart by `images`), answered with its price: nothing is called or charged. The same mistakes give the same errors as the real request, and `max_cost_usd` is exactly the budget hold the real request takes.',
          ...extension,
          requestBody: { required: true, content: json({ anyOf: [generationBody, jsonEdit] }, GENERATION_EXAMPLE) },
          responses: { '200': { description: 'The price.', headers: COMMON_HEADERS, content: json(ref('Quote')) }, ...errors },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          tags: ['models'],
          summary: 'Every model and alias, with what it takes',
          responses: { '200': { description: 'The models.', headers: COMMON_HEADERS, content: json(ref('ModelList')) }, ...errors },
        },
      },
      '/v1/models/{id}': {
        get: {
          operationId: 'getModel',
          tags: ['models'],
          summary: 'One model or alias',
          parameters: [pathId('A model id or alias.')],
          responses: { '200': { description: 'The model.', headers: COMMON_HEADERS, content: json(ref('Model')) }, ...errors },
        },
      },
      '/v1/images': {
        get: {
          operationId: 'listImages',
          tags: ['account'],
          summary: 'The key’s images while they are kept, newest first, with fresh links',
          ...extension,
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'Images per page.',
              schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            },
            { name: 'after', in: 'query', required: false, description: 'The `last_id` of the previous page.', schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'A page of images.', headers: COMMON_HEADERS, content: json(ref('StoredImageList')) }, ...errors },
        },
      },
      '/v1/images/{id}': {
        get: {
          operationId: 'getImage',
          tags: ['account'],
          summary: 'One of the key’s images',
          ...extension,
          parameters: [pathId('The image id.')],
          responses: { '200': { description: 'The image.', headers: COMMON_HEADERS, content: json(ref('StoredImage')) }, ...errors },
        },
      },
      '/v1/usage': {
        get: {
          operationId: 'getUsage',
          tags: ['account'],
          summary: 'The key’s requests, images and spend by UTC day and model',
          ...extension,
          parameters: usageRange,
          responses: { '200': { description: 'The usage.', headers: COMMON_HEADERS, content: json(ref('KeyUsage')) }, ...errors },
        },
      },
      '/files/{day}/{name}': {
        get: {
          operationId: 'getFile',
          tags: ['images'],
          summary: 'An image by the signed link a `url` answer gave',
          ...extension,
          security: [],
          parameters: [
            { name: 'day', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'expires', in: 'query', required: true, description: 'Unix seconds, part of the signed link.', schema: { type: 'string' } },
            { name: 'sig', in: 'query', required: true, description: 'The link’s signature.', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'The image.',
              content: { 'image/png': { schema: binary }, 'image/jpeg': { schema: binary }, 'image/webp': { schema: binary } },
            },
            ...errors,
          },
        },
      },
      '/admin/v1/keys': {
        post: {
          operationId: 'createKey',
          tags: ['admin'],
          summary: 'Create a user key (shown once)',
          ...extension,
          security: admin,
          requestBody: { required: false, content: json(requestBody(KeySettingsSchema, null), { name: 'alice', budget_usd: 5, images_per_minute: 10 }) },
          responses: { '201': { description: 'The key, with its plaintext.', headers: COMMON_HEADERS, content: json(ref('CreatedKey')) }, ...errors },
        },
        get: {
          operationId: 'listKeys',
          tags: ['admin'],
          summary: 'Every user key',
          ...extension,
          security: admin,
          responses: { '200': { description: 'The keys.', headers: COMMON_HEADERS, content: json(ref('KeyList')) }, ...errors },
        },
      },
      '/admin/v1/keys/{id}': {
        get: {
          operationId: 'getKey',
          tags: ['admin'],
          summary: 'One key',
          ...extension,
          security: admin,
          parameters: [pathId('The key id.')],
          responses: { '200': { description: 'The key.', headers: COMMON_HEADERS, content: json(ref('Key')) }, ...errors },
        },
        patch: {
          operationId: 'updateKey',
          tags: ['admin'],
          summary: 'Change a key’s settings (null clears a limit)',
          ...extension,
          security: admin,
          parameters: [pathId('The key id.')],
          requestBody: { required: true, content: json(requestBody(KeySettingsSchema, null)) },
          responses: { '200': { description: 'The key.', headers: COMMON_HEADERS, content: json(ref('Key')) }, ...errors },
        },
        delete: {
          operationId: 'revokeKey',
          tags: ['admin'],
          summary: 'Revoke a key at once',
          ...extension,
          security: admin,
          parameters: [pathId('The key id.')],
          responses: { '200': { description: 'The revoked key.', headers: COMMON_HEADERS, content: json(ref('Key')) }, ...errors },
        },
      },
      '/admin/v1/usage': {
        get: {
          operationId: 'getAdminUsage',
          tags: ['admin'],
          summary: 'Usage of one key or all, by UTC day, key and model',
          ...extension,
          security: admin,
          parameters: [...usageRange, { name: 'api_key_id', in: 'query', required: false, description: 'One key’s usage only.', schema: { type: 'string' } }],
          responses: { '200': { description: 'The usage.', headers: COMMON_HEADERS, content: json(ref('AdminUsage')) }, ...errors },
        },
      },
      '/admin/v1/organizations': {
        get: adminOperation('listOrganizations', 'Customer organisations'),
        post: adminOperation('createOrganization', 'Create an organisation {name, price_group, budget_usd?, metadata?}', { body: true }),
      },
      '/admin/v1/organizations/{id}': {
        get: adminOperation('getOrganization', 'One organisation, with its balance', { path: true }),
        patch: adminOperation('updateOrganization', 'Change an organisation', { path: true, body: true }),
        delete: adminOperation('deleteOrganization', 'Delete an organisation (its ledger stays; its keys are detached)', { path: true }),
      },
      '/admin/v1/organizations/{id}/credits': {
        post: adminOperation('addCredits', 'Record a top-up or a correction {amount_usd, reference?}', { path: true, body: true }),
      },
      '/admin/v1/organizations/{id}/usage': {
        get: adminOperation('getOrganizationUsage', 'An organisation’s usage by day and model, with its balance', { path: true, query: ['from', 'to'] }),
      },
      '/admin/v1/price-groups': {
        get: adminOperation('listPriceGroups', 'Price groups'),
        post: adminOperation('createPriceGroup', 'Create a price group {id, multiplier?, prices?}', { body: true }),
      },
      '/admin/v1/price-groups/{id}': {
        get: adminOperation('getPriceGroup', 'One price group', { path: true }),
        patch: adminOperation('updatePriceGroup', 'Change a price group (requests already held keep their price)', { path: true, body: true }),
      },
      '/admin/v1/reports/margin': { get: adminOperation('marginReport', 'Revenue, upstream cost and margin', { query: ['from', 'to', 'group_by'] }) },
      '/admin/v1/audit': { get: adminOperation('audit', 'The ledger’s invariants checked; every violation listed') },
      '/admin/v1/channels': { get: adminOperation('listChannels', 'Each channel’s models, breaker state, recent error rate and latency') },
      '/livez': probe('live', 'Whether the process answers'),
      '/readyz': probe('ready', 'Whether this replica takes traffic (database reachable, not draining)'),
      '/healthz': {
        get: {
          operationId: 'health',
          tags: ['operations'],
          summary: 'Whether this process serves (its database reachable)',
          ...extension,
          security: [],
          responses: {
            '200': { description: 'Serving.', content: json(ref('Health')) },
            '503': { description: 'Not serving (database unreachable, or shutting down).' },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          tags: ['operations'],
          summary: 'Prometheus metrics (text exposition format)',
          ...extension,
          security: [{ adminKey: [] }, { metricsToken: [] }],
          responses: { '200': { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          tags: ['operations'],
          summary: 'This document',
          ...extension,
          security: [],
          responses: { '200': { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) } },
        },
      },
      '/docs': {
        get: {
          operationId: 'docs',
          tags: ['operations'],
          summary: 'This document as an API reference page',
          ...extension,
          security: [],
          responses: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
      '/llms.txt': {
        get: {
          operationId: 'llmsTxt',
          tags: ['operations'],
          summary: 'A plain-text summary of the API for agents',
          ...extension,
          security: [],
          responses: { '200': { description: 'Markdown text.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
    },
    components: {
      securitySchemes: {
        userKey: { type: 'http', scheme: 'bearer', description: 'A user key (`imagegate keys create`, or the one printed at first start).' },
        adminKey: { type: 'http', scheme: 'bearer', description: 'An admin key: manages keys and reads usage; cannot make images.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'IMAGEGATE_METRICS_TOKEN, for Prometheus.', 'x-imagegate-extension': true },
      },
      schemas: {
        ImagesResponse: toSchema(ImagesResponseSchema, 'output'),
        Usage: toSchema(UsageSchema, 'output'),
        Error: toSchema(ErrorSchema, 'output'),
        Job: { ...toSchema(JobSchema, 'output'), ...extension },
        JobResult: { ...toSchema(JobResultSchema, 'output'), ...extension },
        Quote: { ...toSchema(QuoteSchema, 'output'), ...extension },
        Model: toSchema(ModelSchema, 'output'),
        ModelList: toSchema(ModelListSchema, 'output'),
        StoredImage: { ...toSchema(StoredImageSchema, 'output'), ...extension },
        StoredImageList: { ...toSchema(StoredImageListSchema, 'output'), ...extension },
        KeyUsage: { ...toSchema(KeyUsageSchema, 'output'), ...extension },
        AdminUsage: { ...toSchema(AdminUsageSchema, 'output'), ...extension },
        Key: { ...toSchema(KeySchema, 'output'), ...extension },
        CreatedKey: { ...toSchema(CreatedKeySchema, 'output'), ...extension },
        KeyList: { ...toSchema(KeyListSchema, 'output'), ...extension },
        Health: toSchema(HealthSchema, 'output'),
        PartialImageEvent: streamEvent('partial'),
        CompletedImageEvent: streamEvent('completed'),
      },
    },
  };
}
