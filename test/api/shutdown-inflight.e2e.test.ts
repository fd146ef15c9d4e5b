import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { waitUntil } from '../support/checks.ts';
import { startGateway } from '../support/gateway.ts';

/**
 * A client leaves while its request waits on the upstream, and the gateway is stopped at that
 * moment: the request still releases its budget hold before the database closes (shutdown waits
 * for running requests, not only for open connections), and nothing fails in the log.
 */
describe('stopping with a request whose client has left', () => {
  it('releases the hold before the database closes', async () => {
    const fake = await startOpenAIFake();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-inflight-'));
    let log = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    const channels = [{ id: 'fake', provider: 'openai', baseUrl: fake.url, apiKey: 'sk-upstream-test', models: { 'gpt-image-1': 'gpt-image-1' }, local: true }];
    const env = { IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_LOG_LEVEL: 'warn' };
    try {
      const gateway = await startGateway(env, 'embedded', { logDestination: sink, dataDir });
      // Releasing takes a moment here (a busy database would), so the stop surely overlaps it.
      const ledger = gateway.deps.images.ledger;
      const release = ledger.release.bind(ledger);
      ledger.release = async (hold) => {
        await sleep(300);
        return release(hold);
      };
      fake.queue({ kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' });
      const clients = Array.from({ length: 3 }, () => new AbortController());
      const requests = clients.map(async (client) =>
        fetch(`${gateway.baseUrl}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a lighthouse', quality: 'low' }),
          signal: client.signal,
        }).catch(() => null),
      );
      const holds = () => gateway.deps.db.selectFrom('ledger_entries').select('id').where('kind', '=', 'hold').execute();
      await waitUntil(async () => (await holds()).length === 3);
      for (const client of clients) client.abort();
      await Promise.all(requests);
      await gateway.close();
      // Nothing failed: a client leaving is logged at info, not as a failed request.
      assert.doesNotMatch(log, /destroyed|request failed/, log);

      // Opened again on the same files: every hold has its release.
      const again = await startGateway(env, 'embedded', { dataDir });
      try {
        const kinds = await again.deps.db.selectFrom('ledger_entries').select('kind').execute();
        assert.equal(kinds.filter((row) => row.kind === 'hold').length, 3);
        assert.equal(kinds.filter((row) => row.kind === 'release').length, 3, 'released by the requests, not left to expire');
      } finally {
        await again.close();
      }
    } finally {
      await fake.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
