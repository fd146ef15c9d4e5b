import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { assertEnvelope, portOf, requestRaw } from '../support/raw-http.ts';
import { fakePng } from '../fakes/fake-images.ts';

/**
 * Raw input every route gets checked once, at the boundary: a repeated query parameter and a NUL
 * character anywhere in the path, the query or the body are 400s naming the parameter, on SQLite
 * and PostgreSQL alike (before the fix: 500, "row value misused" / "invalid byte sequence").
 */
for (const mode of ['embedded', 'scaled'] as const) {
  describe(`the input boundary (${mode})`, () => {
    let gateway: TestGateway;
    let admin = '';
    let keyId = '';
    before(async () => {
      gateway = await startGateway({}, mode);
      admin = (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
      keyId = (await gateway.deps.keys.list('user'))[0]?.id ?? '';
    });
    after(async () => {
      await gateway.close();
    });

    const call = (method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
      requestRaw(portOf(gateway.baseUrl), method, path, {
        headers: {
          authorization: `Bearer ${options.key ?? gateway.key}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });

    async function expect400(method: string, path: string, param: string, options: Parameters<typeof call>[2] = {}): Promise<void> {
      const answer = await call(method, path, options);
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.body}`);
      const { error } = assertEnvelope(answer.body, `${method} ${path}`);
      assert.equal(error.param, param, `${method} ${path}: ${answer.body}`);
      assert.equal(error.code, 'invalid_value');
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(answer.headers['x-should-retry'], 'false');
    }

    it('a query parameter sent twice is a 400 naming it, on every route that reads the query', async () => {
      await expect400('GET', '/v1/images?after=a&after=b', 'after');
      await expect400('GET', '/v1/images?limit=1&limit=2', 'limit');
      await expect400('GET', '/v1/usage?from=1&from=2', 'from');
      await expect400('GET', '/admin/v1/usage?api_key_id=a&api_key_id=b', 'api_key_id', { key: admin });
      await expect400('GET', '/admin/v1/usage?to=2026-01-01&to=2026-01-02', 'to', { key: admin });
      await expect400('GET', '/files/20260101/abc.png?sig=a&sig=b&expires=1', 'sig');
      // Once is fine.
      assert.equal((await call('GET', '/v1/images?after=a&limit=5')).status, 200);
      assert.equal((await call('GET', `/admin/v1/usage?api_key_id=${keyId}`, { key: admin })).status, 200);
    });

    it('a NUL in a path parameter is a 400 naming it, never reaching SQL', async () => {
      await expect400('GET', '/v1/images/%00', 'id');
      await expect400('GET', '/v1/images/img_%00x', 'id');
      await expect400('GET', '/v1/images/generations/%00', 'id');
      await expect400('GET', '/v1/models/%00', 'id');
      await expect400('GET', '/admin/v1/keys/%00', 'id', { key: admin });
      await expect400('PATCH', '/admin/v1/keys/%00', 'id', { key: admin, body: { name: 'x' } });
      await expect400('DELETE', '/admin/v1/keys/%00', 'id', { key: admin });
    });

    it('a NUL in a query value or name is a 400 naming it', async () => {
      await expect400('GET', '/v1/images?after=%00', 'after');
      await expect400('GET', '/v1/images?after=img_%00', 'after');
      await expect400('GET', '/admin/v1/usage?api_key_id=%00', 'api_key_id', { key: admin });
      await expect400('GET', '/v1/images?%00=1', '\\u0000');
    });

    it('a NUL in any JSON text field (or key) is a 400 naming the field', async () => {
      await expect400('POST', '/admin/v1/keys', 'name', { key: admin, body: { name: 'a\u0000b' } });
      await expect400('PATCH', `/admin/v1/keys/${keyId}`, 'metadata.team', { key: admin, body: { metadata: { team: 'x\u0000' } } });
      await expect400('PATCH', `/admin/v1/keys/${keyId}`, 'allowed_models[1]', { key: admin, body: { allowed_models: ['dall-e-2', '\u0000'] } });
      await expect400('POST', '/v1/images/generations', 'webhook_url', {
        body: { model: 'dall-e-2', prompt: 'x', webhook_url: 'https://example.com/\u0000' },
        headers: { prefer: 'respond-async' },
      });
      await expect400('POST', '/v1/images/generations', 'prompt', { body: { model: 'dall-e-2', prompt: 'a cat\u0000' } });
      await expect400('POST', '/v1/images/edits', 'images[0].image_url', {
        body: { model: 'gpt-image-1', prompt: 'x', images: [{ image_url: 'data:image/png;base64,\u0000' }] },
      });
      // The key is untouched: nothing was written.
      const row = await gateway.deps.keys.get(keyId);
      assert.equal(row?.metadata, null);
    });

    it('a NUL in a multipart text field is a 400 naming the field', async () => {
      const png = await fakePng(64, 64);
      const form = new FormData();
      form.append('model', 'dall-e-2');
      form.append('prompt', 'a cat\u0000');
      form.append('image', new Blob([png], { type: 'image/png' }), 'cat.png');
      const response = await fetch(`${gateway.baseUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gateway.key}` }, body: form });
      assert.equal(response.status, 400);
      const { error } = assertEnvelope(await response.text());
      assert.equal(error.param, 'prompt');
    });

    it('a deeply nested body is checked without overflowing the stack', async () => {
      const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
      const answer = await requestRaw(portOf(gateway.baseUrl), 'POST', '/v1/images/generations', {
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
        body: `{"prompt":"x","model":"dall-e-2","user":${deep}}`,
      });
      assert.ok(answer.status < 500, answer.body.slice(0, 200));
      assertEnvelope(answer.body);
    });
  });
}
