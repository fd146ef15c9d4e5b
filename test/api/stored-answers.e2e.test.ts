import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryIdempotencyStore } from '../../src/limits/memory-idempotency-store.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';

/**
 * Answers given again later (idempotent replays, async job results) are rebuilt from storage:
 * links signed afresh by whichever signer serves (the gateway's own, or S3 presigned), images
 * read back for b64_json. Checked on both backends.
 */
for (const mode of ['embedded', 'scaled'] as const)
  describe(`answers kept for later are rebuilt from storage (${mode})`, () => {
    let gateway: TestGateway;
    before(async () => {
      gateway = await startGateway({}, mode);
    });
    after(async () => {
      await gateway.close();
    });

    const post = (body: object, headers: Record<string, string>) =>
      fetch(`${gateway.baseUrl}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const urlOf = async (response: Response): Promise<string> => ((await response.json()) as { data: Array<{ url: string }> }).data[0]?.url ?? '';

    it('an idempotent replay two hours later carries a freshly signed link that works', async () => {
      const body = { model: 'dall-e-2', prompt: 'a kite', size: '256x256', response_format: 'url' };
      const headers = { 'idempotency-key': `replay-${mode}` };
      const first = await urlOf(await post(body, headers));
      gateway.setNow(Date.now() + 2 * 3600_000);
      try {
        const replay = await post(body, headers);
        assert.equal(replay.headers.get('idempotent-replayed'), 'true');
        const again = await urlOf(replay);
        assert.notEqual(again, first, 'the link is signed again, not replayed as it was');
        if (mode === 'embedded') {
          const expires = Number(new URL(again).searchParams.get('expires'));
          assert.ok(expires > Date.now() / 1000 + 2 * 3600, 'valid for a full lifetime from the moved clock');
        } else {
          assert.equal(new URL(again).searchParams.get('X-Amz-Expires'), '3600');
        }
      } finally {
        gateway.setNow(null);
      }
    });

    it('an idempotent b64_json replay is the first answer, byte for byte, read back from storage', async () => {
      const body = { model: 'gpt-image-1', prompt: 'a fox', quality: 'low', n: 2 };
      const headers = { 'idempotency-key': `b64-${mode}` };
      const first = Buffer.from(await (await post(body, headers)).arrayBuffer());
      const replay = await post(body, headers);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      const again = Buffer.from(await replay.arrayBuffer());
      assert.ok(again.equals(first));
      const parsed = JSON.parse(again.toString('utf8')) as { data: Array<{ b64_json: string }> };
      assert.equal((await decode(Buffer.from(parsed.data[1]?.b64_json ?? '', 'base64'))).width, 1024);
      if (mode === 'embedded') {
        // What the replay store holds is references, not megabytes of base64 (issue: +859 MB for 200 replays).
        const store = gateway.deps.limits.idempotency;
        assert.ok(store instanceof MemoryIdempotencyStore);
        assert.ok(store.bodyBytes < 4096, `${store.bodyBytes} bytes kept for ${first.length} bytes answered`);
      }
    });

    it('an async job result fetched later carries a freshly signed link', async () => {
      const accepted = await post({ model: 'dall-e-2', prompt: 'a boat', size: '256x256', response_format: 'url' }, { prefer: 'respond-async' });
      const location = accepted.headers.get('location') ?? '';
      let result: Response | undefined;
      for (let i = 0; i < 400 && result === undefined; i += 1) {
        const response = await fetch(`${gateway.baseUrl}${location}`, { headers: { authorization: `Bearer ${gateway.key}` } });
        if (response.status === 200) result = response;
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(result !== undefined, 'the job finished');
      const first = await urlOf(result);
      gateway.setNow(Date.now() + 2 * 3600_000);
      try {
        const later = await urlOf(await fetch(`${gateway.baseUrl}${location}`, { headers: { authorization: `Bearer ${gateway.key}` } }));
        assert.notEqual(later, first);
        gateway.setNow(null);
        assert.equal((await fetchImage(later)).width, 256);
      } finally {
        gateway.setNow(null);
      }
    });
  });
