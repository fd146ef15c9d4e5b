import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { fakePng } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { assertEnvelope, portOf } from '../support/raw-http.ts';

/*
 * Property: whatever a client sends to any route (generated paths, query strings, headers, JSON
 * bodies and multipart parts), the gateway never answers 5xx and every refusal is the OpenAI
 * envelope. Bounded in runs and in time per database, so the suite stays quick; a failure prints
 * fast-check's seed and the shrunk request (FUZZ_SEED=<seed> replays it, FUZZ_RUNS raises the
 * count for a longer hunt).
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 1500);
const TIME_LIMIT_MS = Number(process.env['FUZZ_TIME_LIMIT_MS'] ?? 20_000);
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);

type Body = { kind: 'none' } | { kind: 'json'; text: string } | { kind: 'multipart'; parts: Part[] } | { kind: 'raw'; contentType: string; text: string };
interface Part {
  readonly name: string;
  readonly filename: string | null;
  readonly contentType: string | null;
  readonly data: Buffer;
}
interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly rawQuery: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly auth: 'user' | 'admin' | 'none' | 'garbage';
  readonly body: Body;
}

const ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1/models/:id' },
  { method: 'POST', path: '/v1/images/generations' },
  { method: 'GET', path: '/v1/images/generations/:id' },
  { method: 'POST', path: '/v1/images/edits' },
  { method: 'POST', path: '/v1/images/variations' },
  { method: 'GET', path: '/v1/images' },
  { method: 'GET', path: '/v1/images/:id' },
  { method: 'GET', path: '/v1/usage' },
  { method: 'GET', path: '/admin/v1/keys' },
  { method: 'POST', path: '/admin/v1/keys' },
  { method: 'GET', path: '/admin/v1/keys/:id' },
  { method: 'PATCH', path: '/admin/v1/keys/:id' },
  { method: 'DELETE', path: '/admin/v1/keys/:id' },
  { method: 'GET', path: '/admin/v1/usage' },
  { method: 'GET', path: '/files/:day/:name' },
  { method: 'HEAD', path: '/files/:day/:name' },
  { method: 'GET', path: '/nowhere/:id' },
];

/** Text that tends to break things: NUL and control characters, bad escapes, huge numbers, unicode. */
const nasty = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    '%',
    '%zz',
    '%00',
    '%E0%A4%A',
    '..',
    '../..',
    '\ud800',
    '9'.repeat(40),
    '-1',
    '1.5',
    'NaN',
    'null',
    '[]',
    '{}',
    'img_x',
    'key_x',
    'imgjob_x',
    '20260101',
    'abc.png',
  ),
);
/** encodeURIComponent, which throws on a lone surrogate: that one goes as the UTF-8 bytes of U+FFFD. */
function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'));
}
const segment = fc.oneof(nasty.map(encode), fc.constantFrom('%', '%zz', '%00', '%C0%AF', '%ED%A0%80', '%2F', '..', 'x'.repeat(250)));

const models = fc.constantFrom('dall-e-2', 'dall-e-3', 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'qwen-image', 'nope');
const loose = fc.oneof(
  nasty,
  fc.integer({ min: -5, max: 12 }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.array(nasty, { maxLength: 3 }),
  fc.dictionary(nasty, nasty, { maxKeys: 3 }),
);
const imageUrl = fc.oneof(
  fc.constantFrom(
    'data:image/png,%',
    'data:image/png,%zz',
    'data:image/png;base64,!!!!',
    'data:,',
    'http://127.0.0.1/x.png',
    'http://localhost/x',
    'ftp://x/y',
    'https://user:pw@example.invalid/x.png',
    'not a url',
  ),
  nasty,
);

/** JSON bodies: mostly shaped like real requests (so validation goes deep), sometimes anything. */
const jsonBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record(
        {
          model: fc.oneof(models, loose),
          prompt: fc.oneof(fc.constantFrom('a boat at sunrise', ''), nasty, loose),
          n: fc.oneof(fc.constantFrom(1, 2, 0, 11, -1, 1.5, '2'), loose),
          size: fc.oneof(fc.constantFrom('256x256', '1024x1024', 'auto', '1536x1024', '0x0', '99999x99999', 'big', '1024x'), loose),
          quality: fc.oneof(fc.constantFrom('low', 'standard', 'hd', 'auto', 'ultra'), loose),
          response_format: fc.constantFrom('url', 'b64_json', 'png'),
          output_format: fc.constantFrom('png', 'jpeg', 'webp', 'gif'),
          output_compression: fc.oneof(fc.integer({ min: -10, max: 120 }), loose),
          background: fc.constantFrom('transparent', 'opaque', 'auto', 'clear'),
          stream: fc.oneof(fc.boolean(), loose),
          partial_images: fc.integer({ min: -1, max: 4 }),
          style: fc.constantFrom('vivid', 'natural', 'cartoon'),
          seed: fc.oneof(fc.integer(), loose),
          user: nasty,
          webhook_url: fc.oneof(imageUrl, fc.constant('https://example.com/hook')),
          images: fc.oneof(fc.array(fc.record({ image_url: imageUrl }, { requiredKeys: [] }), { maxLength: 3 }), loose),
          mask: fc.oneof(fc.record({ image_url: imageUrl }), loose),
          name: fc.oneof(nasty, loose),
          budget_usd: fc.oneof(fc.double(), loose),
          requests_per_minute: loose,
          allowed_models: fc.oneof(fc.array(models, { maxLength: 2 }), loose),
          metadata: fc.oneof(fc.dictionary(nasty, nasty, { maxKeys: 3 }), loose),
          expires_at: loose,
          [`${'__proto__'}`]: fc.dictionary(nasty, nasty, { maxKeys: 1 }),
        },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value)),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '{',
      '{"prompt": "x",}',
      '[[[[[[[[',
      '{"__proto__": {"x": 1}}',
      '{"constructor": {"prototype": {}}}',
      'null',
      '"\\u0000"',
      '{"prompt":"\\ud800"}',
    ),
  },
);

const partArbitrary = (png: Buffer): fc.Arbitrary<Part> =>
  fc.record({
    name: fc.constantFrom(
      'image',
      'image[]',
      'image[0]',
      'image[1]',
      'image[99]',
      'mask',
      'prompt',
      'model',
      'n',
      'size',
      'quality',
      'response_format',
      'stream',
      'output_format',
      '__proto__',
      '',
      'x',
    ),
    filename: fc.oneof(fc.constant(null), fc.constantFrom('a.png', '', '../../etc/passwd', 'a\u0000.png')),
    contentType: fc.oneof(fc.constant(null), fc.constantFrom('image/png', 'application/octet-stream', 'text/plain', 'image/gif')),
    data: fc.oneof(
      fc.constant(png),
      fc.constant(png.subarray(0, Math.floor(png.length / 2))),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom('dall-e-2', 'gpt-image-1', 'a cat', '2', 'true', '256x256', '\u0000', '').map((text) => Buffer.from(text)),
    ),
  });

const header = fc.oneof(
  fc.constant<[string, string]>(['prefer', 'respond-async']),
  fc.tuple(fc.constant('idempotency-key'), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 })),
  fc.tuple(
    fc.constantFrom('accept', 'accept-encoding', 'x-random', 'range', 'if-none-match', 'origin'),
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  ),
);

function requestArbitrary(png: Buffer): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      route: fc.constantFrom(...ROUTES),
      segments: fc.array(segment, { minLength: 2, maxLength: 2 }),
      otherMethod: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), { freq: 6 }),
      query: fc.array(fc.tuple(fc.constantFrom('after', 'limit', 'from', 'to', 'api_key_id', 'expires', 'sig', 'x', '%00', ''), nasty), { maxLength: 4 }),
      rawQuery: fc.constantFrom('', '&', '=', 'a=%', 'a=%zz', 'limit=%00', '&&&=&', 'after[]=1', 'after=1&after=2'),
      headers: fc.array(header, { maxLength: 3 }).map((entries) => Object.fromEntries(entries)),
      auth: fc.constantFrom('user', 'user', 'admin', 'none', 'garbage'),
      body: fc.oneof(
        fc.constant<Body>({ kind: 'none' }),
        jsonBody.map((text): Body => ({ kind: 'json', text })),
        jsonBody.map((text): Body => ({ kind: 'json', text })),
        fc.array(partArbitrary(png), { maxLength: 5 }).map((parts): Body => ({ kind: 'multipart', parts })),
        fc
          .tuple(
            fc.constantFrom(
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/json; charset=latin1',
              'multipart/form-data',
              'multipart/form-data; boundary=',
              'image/png',
            ),
            nasty,
          )
          .map(([contentType, text]): Body => ({ kind: 'raw', contentType, text })),
      ),
    })
    .map(({ route, segments, otherMethod, query, rawQuery, headers, auth, body }) => {
      let index = 0;
      const path = route.path.replace(/:[a-z]+/g, () => segments[index++] ?? 'x');
      return { method: otherMethod ?? route.method, path, query, rawQuery, headers, auth, body };
    });
}

function multipartBody(parts: readonly Part[]): { contentType: string; body: Buffer } {
  const boundary = `fuzz${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === null ? '' : `; filename="${part.filename}"`;
    const type = part.contentType === null ? '' : `\r\nContent-Type: ${part.contentType}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`), part.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

function send(port: number, keys: { user: string; admin: string }, request: FuzzRequest): Promise<{ status: number; contentType: string; body: string }> {
  const search = [...request.query.map(([key, value]) => `${encode(key)}=${encode(value)}`), request.rawQuery].filter((part) => part !== '').join('&');
  const headers: Record<string, string> = { ...request.headers };
  if (request.auth === 'user') headers['authorization'] = `Bearer ${keys.user}`;
  if (request.auth === 'admin') headers['authorization'] = `Bearer ${keys.admin}`;
  if (request.auth === 'garbage') headers['authorization'] = 'Bearer sk-ig-nope';
  let payload: Buffer | undefined;
  if (request.body.kind === 'json') {
    headers['content-type'] = 'application/json';
    payload = Buffer.from(request.body.text);
  } else if (request.body.kind === 'multipart') {
    const form = multipartBody(request.body.parts);
    headers['content-type'] = form.contentType;
    payload = form.body;
  } else if (request.body.kind === 'raw') {
    headers['content-type'] = request.body.contentType;
    payload = Buffer.from(request.body.text);
  }
  // Node frames a GET/HEAD/DELETE body only when told its length; unframed bytes would be parsed
  // as a second request.
  if (payload !== undefined) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: request.method, path: `${request.path}${search === '' ? '' : `?${search}`}`, headers, agent: false, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

for (const mode of ['embedded', 'scaled'] as const) {
  describe(`fuzzed requests to every route (${mode})`, () => {
    let gateway: TestGateway;
    let admin = '';
    let png: Buffer;
    before(async () => {
      gateway = await startGateway({}, mode);
      admin = (await gateway.deps.keys.create({ name: 'fuzz admin', role: 'admin' })).plaintext;
      png = await fakePng(64, 64);
    });
    after(async () => {
      await gateway.close();
    });

    it('never answers 5xx, and every error is the OpenAI envelope', async (t) => {
      const port = portOf(gateway.baseUrl);
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArbitrary(png), async (request) => {
          const answer = await send(port, { user: gateway.key, admin }, request);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const context = `${request.method} ${request.path} → ${answer.status} ${answer.body.slice(0, 300)}`;
          assert.ok(answer.status >= 200 && answer.status < 500, context);
          if (answer.status >= 400 && request.method !== 'HEAD') assertEnvelope(answer.body, context);
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
      t.diagnostic(
        `statuses: ${[...statuses]
          .sort(([a], [b]) => a - b)
          .map(([status, count]) => `${status}×${count}`)
          .join(' ')}`,
      );
    });
  });
}
