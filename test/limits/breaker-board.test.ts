import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBreakerBoard } from '../../src/limits/breaker-board.ts';

const REDIS_URL = process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

describe('RedisBreakerBoard', () => {
  const prefix = `imagegate-test:${randomBytes(6).toString('hex')}:`;
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
  after(async () => {
    const stale = await clients[0]?.keys(`${prefix}*`);
    if (stale !== undefined && stale.length > 0) await clients[0]?.del(...stale);
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('a channel one replica posts open is open for the others until the cool-down ends', async () => {
    const [a, b] = clients.map((client) => new RedisBreakerBoard(client, prefix, ['up-1', 'up-2'], 50));
    assert.ok(a !== undefined && b !== undefined);
    try {
      a.post('up-1', 1500);
      // The other replica learns it within a few refresh intervals; waited for, not timed, so a
      // loaded machine does not fail the test.
      await until(() => b.isOpen('up-1'), 3000);
      assert.equal(b.isOpen('up-2'), false);
      assert.ok(b.openForMs('up-1') > 0 && b.openForMs('up-1') <= 1500);
      await until(() => !b.isOpen('up-1'), 5000);
    } finally {
      a.close();
      b.close();
    }
  });
});

/** Waits until `condition` holds, checking every 20 ms; fails after `limitMs`. */
async function until(condition: () => boolean, limitMs: number): Promise<void> {
  const endMs = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > endMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
