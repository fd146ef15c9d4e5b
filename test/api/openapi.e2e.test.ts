import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { fakePng } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

interface Schema {
  readonly properties: Record<string, Record<string, unknown>>;
  readonly required?: string[];
  readonly additionalProperties?: unknown;
}
interface Operation {
  readonly 'x-imagegate-extension'?: boolean;
  readonly parameters?: Array<Record<string, unknown>>;
  readonly requestBody?: { content: Record<string, { schema: Schema }> };
  readonly responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, Record<string, unknown>> }>;
}
interface OpenApi {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { schemas: Record<string, unknown> };
}
/** An answer, read loosely. */
type Body = Record<string, unknown> & { data?: Array<Record<string, unknown>> };

/** Every route the app serves, as `METHOD /path` in OpenAPI's `{param}` spelling, read from Fastify's route tree. */
function servedRoutes(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    const full = `${stack.join('')}${match[2] ?? ''}`;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ')) {
      if (method === '' || method === 'HEAD' || method === 'OPTIONS') continue;
      routes.push(`${method} ${full.replace(/:([a-z_]+)/g, '{$1}')}`);
    }
  }
  return routes.sort();
}

/** Routes the document leaves out on purpose: the reference page's own files. */
/** Pages for browsers, not API: the reference page's assets and the web console. */
const UNDOCUMENTED = ['GET /docs/start.js', 'GET /docs/{asset}', 'GET /', 'GET /*'];

describe('/openapi.json', () => {
  let gateway: TestGateway;
  let document: OpenApi;
  let configDir: string;
  let ajv: Ajv2020;
  before(async () => {
    configDir = mkdtempSync(path.join(tmpdir(), 'imagegate-openapi-'));
    writeFileSync(path.join(configDir, 'imagegate.yaml'), 'aliases:\n  house-style: gpt-image-1\n');
    gateway = await startGateway({ IMAGEGATE_CONFIG: path.join(configDir, 'imagegate.yaml') });
    const response = await fetch(`${gateway.baseUrl}/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    document = (await response.json()) as OpenApi;
    // OpenAPI's own keywords and imagegate's marks are not JSON Schema keywords; `binary` is OpenAPI's format.
    ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat('binary', true);
    ajv.addFormat('uri', (text: string) => URL.parse(text) !== null);
    ajv.addSchema(document, 'openapi.json');
  });
  after(async () => {
    await gateway.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  const validators = new Map<string, ReturnType<Ajv2020['compile']>>();
  const validatorAt = (pointer: string): ReturnType<Ajv2020['compile']> => {
    let validate = validators.get(pointer);
    if (validate === undefined) {
      validate = ajv.compile({ $ref: `openapi.json#${pointer}` });
      validators.set(pointer, validate);
    }
    return validate;
  };

  /** Checks `body` against the schema at a JSON pointer of the document. */
  function check(pointer: string, body: unknown, what: string): void {
    const validate = validatorAt(pointer);
    assert.ok(validate(body), `${what} does not match ${pointer}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 600)}`);
  }

  const escape = (segment: string): string => segment.replaceAll('~', '~0').replaceAll('/', '~1');

  /** Checks a real JSON answer against the document's schema for its route, method and status. */
  async function checkAnswer(route: string, method: string, response: Response): Promise<Body> {
    const body = (await response.json()) as Body;
    const responses = document.paths[route]?.[method]?.responses;
    assert.ok(responses !== undefined, `${method} ${route} is not documented`);
    const status = String(response.status) in responses ? String(response.status) : 'default';
    assert.ok(responses[status]?.content?.['application/json'] !== undefined, `${method} ${route} documents no JSON answer for ${response.status}`);
    check(
      `/paths/${escape(route)}/${method}/responses/${status}/content/application~1json/schema`,
      body,
      `${method.toUpperCase()} ${route} ${response.status}`,
    );
    return body;
  }

  const call = (route: string, init: RequestInit & { key?: string } = {}): Promise<Response> => {
    const { key = gateway.key, headers, ...rest } = init;
    return fetch(`${gateway.baseUrl}${route}`, {
      ...rest,
      headers: {
        authorization: `Bearer ${key}`,
        ...(typeof rest.body === 'string' ? { 'content-type': 'application/json' } : {}),
        ...(headers as Record<string, string>),
      },
    });
  };

  it('is a valid OpenAPI 3.1 document, and each of its schemas a valid JSON Schema', async () => {
    assert.equal(document.openapi, '3.1.0');
    const result = await new Validator().validate({ ...document });
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    for (const name of Object.keys(document.components.schemas)) validatorAt(`/components/schemas/${name}`);
  });

  it('gives examples its own schemas accept', () => {
    for (const [route, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const media = operation.requestBody?.content['application/json'] as { example?: unknown } | undefined;
        if (media?.example !== undefined)
          check(`/paths/${escape(route)}/${method}/requestBody/content/application~1json/schema`, media.example, `${method} ${route}'s example`);
      }
    }
    const quote = document.paths['/v1/images/quote']?.['post']?.requestBody?.content['application/json']?.schema as unknown as { anyOf: Schema[] };
    assert.ok(
      quote.anyOf.every((variant) => !('webhook_url' in variant.properties)),
      'a quote takes no webhook_url',
    );
  });

  it('describes every route the gateway serves, and no other', () => {
    const documented = Object.entries(document.paths)
      .flatMap(([route, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${route}`))
      .sort();
    const served = servedRoutes(gateway.app.fastify.printRoutes({ commonPrefix: false })).filter((route) => !UNDOCUMENTED.includes(route));
    assert.deepEqual(documented, served);
  });

  it('takes its request bodies from the contract’s own schemas and marks imagegate’s extensions', () => {
    const generation = document.paths['/v1/images/generations']?.['post']?.requestBody?.content['application/json']?.schema;
    assert.ok(generation !== undefined);
    assert.equal(generation.additionalProperties, false);
    assert.deepEqual(generation.required, ['prompt']);
    for (const field of ['seed', 'negative_prompt', 'aspect_ratio', 'resolution', 'webhook_url'])
      assert.equal(generation.properties[field]?.['x-imagegate-extension'], true, field);
    for (const field of ['prompt', 'model', 'n', 'size', 'quality', 'stream', 'partial_images'])
      assert.equal(generation.properties[field]?.['x-imagegate-extension'], undefined, field);
    assert.match(String(generation.properties['response_format']?.['x-imagegate-note']), /url.*every model/);
    assert.ok((generation.properties['model']?.['examples'] as string[]).includes('house-style'));
    const generations = document.paths['/v1/images/generations']?.['post'];
    const parameters = (generations?.parameters ?? []).map((p) => [p['name'], p['x-imagegate-extension']]);
    assert.deepEqual(parameters, [
      ['Idempotency-Key', true],
      ['Prefer', true],
    ]);
    assert.equal(document.paths['/v1/images/quote']?.['post']?.['x-imagegate-extension'], true);
    assert.equal(generations?.responses['200']?.headers?.['x-imagegate-cost-usd']?.['x-imagegate-extension'], true);
    // The document validates the same bodies the gateway takes: a valid body passes, a bad one fails.
    const pointer = '/paths/~1v1~1images~1generations/post/requestBody/content/application~1json/schema';
    check(pointer, { prompt: 'x', model: 'gpt-image-1', n: 2, seed: 7 }, 'a valid body');
    assert.equal(validatorAt(pointer)({ prompt: 'x', colour: 'blue' }), false);
  });

  it('matches the gateway’s real answers: images, streams, jobs, edits, variations, quotes', async () => {
    const generate = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      call('/v1/images/generations', { method: 'POST', body: JSON.stringify(body), headers });
    await checkAnswer('/v1/images/generations', 'post', await generate({ model: 'dall-e-3', prompt: 'a paper boat' }));
    const gpt = await checkAnswer(
      '/v1/images/generations',
      'post',
      await generate({ model: 'gpt-image-1', prompt: 'a paper boat', quality: 'low', n: 2, response_format: 'b64_json' }),
    );
    assert.ok(gpt['usage'] !== undefined && gpt.data?.[0]?.['b64_json'] !== undefined);
    await checkAnswer(
      '/v1/images/generations',
      'post',
      await generate({ model: 'qwen-image', prompt: 'a tea house', size: '1024x1024', seed: 3, negative_prompt: 'people' }),
    );
    await checkAnswer('/v1/images/generations', 'post', await generate({ model: 'dall-e-3', prompt: 'x', size: '1x1' }));
    await checkAnswer('/v1/images/generations', 'post', await call('/v1/images/generations', { method: 'POST', body: '{}', key: 'sk-ig-wrong' }));

    const stream = await generate({ model: 'gpt-image-1-mini', prompt: 'a fox', quality: 'low', stream: true, partial_images: 1 });
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok('text/event-stream' in (document.paths['/v1/images/generations']?.['post']?.responses['200']?.content ?? {}));
    const events = (await stream.text()).split('\n\n').filter((block) => block.includes('data: '));
    assert.equal(events.length, 2);
    for (const block of events) {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data: unknown = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      check(`/components/schemas/${event.endsWith('partial_image') ? 'PartialImageEvent' : 'CompletedImageEvent'}`, data, event);
    }

    const accepted = await generate({ model: 'dall-e-2', prompt: 'a kite', size: '256x256' }, { prefer: 'respond-async' });
    assert.equal(accepted.status, 202);
    const job = await checkAnswer('/v1/images/generations', 'post', accepted);
    let done: Response | undefined;
    for (let tries = 0; tries < 200; tries += 1) {
      const polled = await call(`/v1/images/generations/${String(job['id'])}`);
      if (polled.status !== 202) {
        done = polled;
        break;
      }
      await checkAnswer('/v1/images/generations/{id}', 'get', polled);
      await sleep(25);
    }
    assert.ok(done !== undefined, 'the job never finished');
    assert.equal(done.status, 200);
    await checkAnswer('/v1/images/generations/{id}', 'get', done);

    const png = await fakePng(512, 512, 5);
    const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
    await checkAnswer(
      '/v1/images/edits',
      'post',
      await call('/v1/images/edits', {
        method: 'POST',
        body: JSON.stringify({ model: 'gpt-image-1', prompt: 'add a moon', images: [{ image_url: dataUrl }], quality: 'low' }),
      }),
    );
    const form = new FormData();
    form.set('model', 'dall-e-2');
    form.set('prompt', 'add a moon');
    form.set('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'in.png');
    await checkAnswer('/v1/images/edits', 'post', await call('/v1/images/edits', { method: 'POST', body: form }));
    const variation = new FormData();
    variation.set('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'in.png');
    variation.set('size', '256x256');
    await checkAnswer('/v1/images/variations', 'post', await call('/v1/images/variations', { method: 'POST', body: variation }));

    for (const body of [
      { model: 'gpt-image-1', prompt: 'x', n: 3 },
      { model: 'dall-e-3', prompt: 'x' },
      { model: 'gpt-image-1', prompt: 'x', images: [{ image_url: dataUrl }] },
      { prompt: 'x', size: 'big' },
    ]) {
      await checkAnswer('/v1/images/quote', 'post', await call('/v1/images/quote', { method: 'POST', body: JSON.stringify(body) }));
    }
  });

  it('matches the real answers of models, history, usage, files, admin and health', async () => {
    const models = await checkAnswer('/v1/models', 'get', await call('/v1/models'));
    assert.ok(models.data?.some((model) => model['id'] === 'house-style'));
    for (const model of models.data ?? []) await checkAnswer('/v1/models/{id}', 'get', await call(`/v1/models/${String(model['id'])}`));
    await checkAnswer('/v1/models/{id}', 'get', await call('/v1/models/no-such-model'));

    const page = await checkAnswer('/v1/images', 'get', await call('/v1/images?limit=2'));
    const first = page.data?.[0];
    assert.ok(first !== undefined, 'the images of the test above are listed');
    await checkAnswer('/v1/images', 'get', await call(`/v1/images?limit=2&after=${String(page['last_id'])}`));
    await checkAnswer('/v1/images', 'get', await call('/v1/images?limit=1000'));
    await checkAnswer('/v1/images/{id}', 'get', await call(`/v1/images/${String(first['id'])}`));
    await checkAnswer('/v1/images/{id}', 'get', await call('/v1/images/img_missing'));
    const usage = await checkAnswer('/v1/usage', 'get', await call('/v1/usage'));
    assert.ok((usage.data?.length ?? 0) > 0);
    const file = await fetch(String(first['url']));
    assert.equal(file.status, 200);
    assert.ok(Object.keys(document.paths['/files/{day}/{name}']?.['get']?.responses['200']?.content ?? {}).includes(file.headers.get('content-type') ?? ''));
    await file.arrayBuffer();

    const admin = (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
    const created = await checkAnswer(
      '/admin/v1/keys',
      'post',
      await call('/admin/v1/keys', {
        method: 'POST',
        key: admin,
        body: JSON.stringify({ name: 'app', budget_usd: 5, allowed_models: ['dall-e-3'], metadata: { team: 'web' } }),
      }),
    );
    await checkAnswer('/admin/v1/keys', 'post', await call('/admin/v1/keys', { method: 'POST', key: admin, body: JSON.stringify({ budget_usd: -1 }) }));
    await checkAnswer('/admin/v1/keys', 'get', await call('/admin/v1/keys', { key: admin }));
    const id = String(created['id']);
    await checkAnswer('/admin/v1/keys/{id}', 'get', await call(`/admin/v1/keys/${id}`, { key: admin }));
    await checkAnswer(
      '/admin/v1/keys/{id}',
      'patch',
      await call(`/admin/v1/keys/${id}`, { method: 'PATCH', key: admin, body: JSON.stringify({ budget_usd: null, expires_at: 2_000_000_000 }) }),
    );
    await checkAnswer('/admin/v1/keys/{id}', 'delete', await call(`/admin/v1/keys/${id}`, { method: 'DELETE', key: admin }));
    await checkAnswer('/admin/v1/usage', 'get', await call('/admin/v1/usage', { key: admin }));
    await checkAnswer('/admin/v1/usage', 'get', await call('/admin/v1/usage?from=tomorrow', { key: admin }));
    await checkAnswer('/healthz', 'get', await fetch(`${gateway.baseUrl}/healthz`));
  });
});

describe('/docs and /llms.txt', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  it('/docs is a reference page whose every file the gateway serves itself', async () => {
    const page = await fetch(`${gateway.baseUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    assert.ok(!/https?:\/\//.test(html), 'the page links outside the gateway');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '');
    assert.deepEqual(assets.sort(), ['docs/start.js', 'docs/swagger-ui-bundle.js', 'docs/swagger-ui.css']);
    for (const asset of assets) {
      const response = await fetch(new URL(asset, `${gateway.baseUrl}/docs`));
      assert.equal(response.status, 200, asset);
      const text = await response.text();
      assert.ok(text.length > (asset.endsWith('start.js') ? 50 : 10_000), asset);
      if (asset.endsWith('start.js')) assert.match(text, /url: 'openapi\.json'.*validatorUrl: null/);
    }
    assert.equal((await fetch(`${gateway.baseUrl}/docs/package.json`)).status, 404);
  });

  it('/llms.txt summarises every documented route and every model', async () => {
    const response = await fetch(`${gateway.baseUrl}/llms.txt`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    const document = (await (await fetch(`${gateway.baseUrl}/openapi.json`)).json()) as OpenApi;
    for (const [route, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) assert.ok(text.includes(`- ${method.toUpperCase()} ${route}`), `${method} ${route}`);
    }
    for (const model of gateway.deps.catalog.all()) assert.ok(text.includes(`- ${model.id} (`), model.id);
    assert.match(text, /seed \(imagegate\)/);
  });
});
