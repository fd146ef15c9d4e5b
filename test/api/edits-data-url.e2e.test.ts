import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fakePng } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { assertEnvelope } from '../support/raw-http.ts';

/** JSON edits with percent-encoded data URLs (before: decodeURIComponent threw, a 500). */
describe('POST /v1/images/edits with percent-encoded data URLs', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  const edit = (body: unknown) =>
    fetch(`${gateway.baseUrl}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  for (const bad of ['%', '%zz', '%E0%A4%A']) {
    it(`a bad percent-escape ('${bad}') in an image or the mask is a 400 naming it`, async () => {
      const inImage = await edit({ model: 'gpt-image-1', prompt: 'x', images: [{ image_url: `data:image/png,${bad}` }] });
      assert.equal(inImage.status, 400);
      assert.equal(assertEnvelope(await inImage.text()).error.param, 'images[0].image_url');

      const png = (await fakePng(64, 64)).toString('base64');
      const inMask = await edit({
        model: 'gpt-image-1',
        prompt: 'x',
        images: [{ image_url: `data:image/png;base64,${png}` }],
        mask: { image_url: `data:image/png,${bad}` },
      });
      assert.equal(inMask.status, 400);
      assert.equal(assertEnvelope(await inMask.text()).error.param, 'mask.image_url');
    });
  }

  it('a PNG sent as percent-encoded bytes is edited like the same PNG in base64', async () => {
    const png = await fakePng(64, 64);
    const percent = [...png].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const response = await edit({
      model: 'gpt-image-1',
      prompt: 'a boat',
      quality: 'low',
      size: '1024x1024',
      images: [{ image_url: `data:image/png,${percent}` }],
    });
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as { data: Array<{ b64_json?: string }> };
    assert.ok((body.data[0]?.b64_json?.length ?? 0) > 100);
  });
});
