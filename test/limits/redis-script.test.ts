import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RedisScript } from '../../src/limits/redis-script.ts';
import { redisFixture } from './support.ts';

describe('RedisScript', () => {
  let redis: Awaited<ReturnType<typeof redisFixture>>;
  before(async () => {
    redis = await redisFixture();
  });
  after(async () => {
    await redis.close();
  });

  it('loads a script the server has never seen, then runs it by its SHA-1', async () => {
    // A unique comment makes a script no Redis has cached, so the first run takes the NOSCRIPT path.
    const script = new RedisScript(`-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1]}`);
    const key = `${redis.prefix}script`;
    assert.deepEqual(await script.run(redis.clients[0], [key], ['one']), [key, 'one']);
    assert.deepEqual(await script.run(redis.clients[0], [key], [2]), [key, '2']);
  });

  it('passes other script errors through', async () => {
    const script = new RedisScript(`return redis.call('NO_SUCH_COMMAND')`);
    await assert.rejects(script.run(redis.clients[0], [], []), /unknown command|Unknown Redis command/i);
  });
});
