import { type Catalog, defaultSize, type ModelSpec } from '../../catalog/index.ts';

/*
 * `/llms.txt`: the API in a few screens of Markdown for agents (the llmstxt.org convention, as
 * CometAPI publishes one): what the gateway is, how to authenticate, every route of the OpenAPI
 * document with its fields, and the models with what each takes. Written from the document and
 * the catalog, so it says what they say.
 */

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const recordAt = (value: unknown, key: string): Json => (isRecord(value) && isRecord(value[key]) ? value[key] : {});
const textAt = (value: unknown, key: string): string => (isRecord(value) && typeof value[key] === 'string' ? value[key] : '');

const METHODS = ['get', 'post', 'patch', 'delete'] as const;

/** A body's fields: `name` (required ones starred), imagegate's own marked. */
function fieldsOf(schema: unknown): string {
  const properties = recordAt(schema, 'properties');
  const required = isRecord(schema) && Array.isArray(schema['required']) ? schema['required'] : [];
  return Object.entries(properties)
    .map(
      ([name, property]) =>
        `${name}${required.includes(name) ? '*' : ''}${isRecord(property) && property['x-imagegate-extension'] === true ? ' (imagegate)' : ''}`,
    )
    .join(', ');
}

function bodyLines(operation: Json): string[] {
  const content = recordAt(recordAt(operation, 'requestBody'), 'content');
  return Object.entries(content).map(([type, media]) => {
    const schema = recordAt(media, 'schema');
    const variants = Array.isArray(schema['anyOf']) ? schema['anyOf'] : [schema];
    return `  - body (${type}): ${variants.map(fieldsOf).join(' | or | ')}`;
  });
}

function modelLine(model: ModelSpec, providers: readonly string[]): string {
  const sizes =
    model.size.kind === 'list'
      ? model.size.sizes.join(', ')
      : model.size.kind === 'free'
        ? `any WxH (multiple of ${model.size.multipleOf})`
        : `aspect ratios ${model.size.ratios.join(', ')}`;
  const traits = [
    `n 1–${model.maxN}`,
    `sizes ${sizes} (default ${defaultSize(model.size)})`,
    `quality ${model.qualities.join('/')}`,
    model.streaming ? 'streams' : '',
    model.edit === null ? '' : 'edits',
    model.variations ? 'variations' : '',
    model.extras.seed ? 'seed' : '',
    model.extras.negativePromptMaxChars === null ? '' : 'negative_prompt',
    `priced ${model.price.kind.replace('_', ' ')}`,
  ].filter((trait) => trait !== '');
  return `- ${model.id} (${model.ownedBy}; ${providers.length === 0 ? 'not served here' : `served by ${providers.join(', ')}`}): ${traits.join('; ')}`;
}

export function llmsTxt(document: Json, catalog: Catalog, providersFor: (model: ModelSpec) => readonly string[] = () => []): string {
  const info = recordAt(document, 'info');
  const lines = [
    `# ${textAt(info, 'title')}`,
    '',
    `> ${textAt(info, 'summary')}`,
    '',
    textAt(info, 'description'),
    '',
    '- Base URL: this server’s root. Use the official OpenAI SDKs with `base_url` set to `<root>/v1`.',
    '- Auth: `Authorization: Bearer <key>` (user keys for /v1, admin keys for /admin/v1).',
    '- Full description: [/openapi.json](/openapi.json) (OpenAPI 3.1); reference page: [/docs](/docs).',
    '- Price first: POST /v1/images/quote takes a generation’s body and answers max_cost_usd (the budget hold) and expected_cost_usd without calling anything.',
    '',
    '## Routes',
    '',
  ];
  for (const [route, item] of Object.entries(recordAt(document, 'paths'))) {
    for (const method of METHODS) {
      const operation = recordAt(item, method);
      if (Object.keys(operation).length === 0) continue;
      const mark = operation['x-imagegate-extension'] === true ? ' (imagegate)' : '';
      lines.push(`- ${method.toUpperCase()} ${route}${mark}: ${textAt(operation, 'summary')}`, ...bodyLines(operation));
    }
  }
  lines.push('', '(* required; (imagegate): not in OpenAI’s API)', '', '## Models', '', 'GET /v1/models gives every field and value each model takes.', '');
  for (const model of catalog.all()) lines.push(modelLine(model, providersFor(model)));
  const aliases = [...catalog.aliases()];
  if (aliases.length > 0) lines.push('', `Aliases: ${aliases.map(([alias, target]) => `${alias} → ${target}`).join(', ')}.`);
  lines.push(
    '',
    '## Example',
    '',
    '```sh',
    'curl -X POST "$ROOT/v1/images/generations" -H "Authorization: Bearer $IMAGEGATE_KEY" -H "Content-Type: application/json" \\',
    '  -d \'{"model":"gpt-image-1","prompt":"a lighthouse at night","size":"1024x1024"}\'',
    '```',
    '',
    'Errors are `{"error":{"message","type","param","code"}}` with the HTTP status of the code; 429 and 503 carry Retry-After.',
    '',
  );
  return lines.join('\n');
}
