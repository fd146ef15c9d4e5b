import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { KeysRepo } from '../../src/db/keys-repo.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createTestDatabase, type TestDatabase } from '../support/databases.ts';
import { scaledEnv } from '../support/gateway.ts';
import { decode } from '../support/images.ts';
import { startReplica, type Replica } from '../support/replica.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';

const REDIS_URL = process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
/** dall-e-2 at 256x256 costs $0.016: the local renderer draws it in milliseconds. */
const PRICE_MICRO = 16_000;
const SMALL = { model: 'dall-e-2', prompt: 'a small boat on a lake', size: '256x256', response_format: 'b64_json' };

/**
 * Three gateway processes sharing one PostgreSQL, one Redis and one S3 bucket: limits, budgets,
 * idempotency and links must hold across them, and a replica killed mid-request must leave the
 * ledger consistent.
 */
describe('three replicas on PostgreSQL, Redis and S3', () => {
  let database: TestDatabase;
  let s3: S3TestServer;
  let replicas: Replica[];
  let keys: KeysRepo;
  const prefix = `imagegate-test:${randomBytes(6).toString('hex')}:`;
  const dataDirs: string[] = [];

  before(async () => {
    database = await createTestDatabase('postgres');
    keys = new KeysRepo(database.db);
    s3 = await startS3Server();
    const env = {
      ...scaledEnv(database, s3, REDIS_URL, prefix),
      IMAGEGATE_SIGNING_SECRET: randomBytes(32).toString('hex'),
      // Links to the gateway's own /files route, so a link made by one replica is served by another.
      IMAGEGATE_S3_PRESIGNED_LINKS: 'false',
    };
    replicas = await Promise.all(
      ['a', 'b', 'c'].map((name) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), `imagegate-replica-${name}-`));
        dataDirs.push(dataDir);
        return startReplica(name, { ...env, IMAGEGATE_DATA_DIR: dataDir });
      }),
    );
  });

  after(async () => {
    await Promise.all((replicas ?? []).map((replica) => replica.kill('SIGKILL')));
    await s3?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length > 0) await redis.del(...stale);
    await redis.quit();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  const replica = (i: number): Replica => {
    const r = replicas[i % replicas.length];
    if (r === undefined) throw new Error('no replica');
    return r;
  };

  async function generate(target: Replica, key: string, body: object, headers: Record<string, string> = {}) {
    const response = await fetch(`${target.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  it('a key’s requests-per-minute limit holds across replicas under a concurrent burst', async () => {
    const { plaintext } = await keys.create({ name: 'rpm', requestsPerMinute: 10 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => generate(replica(i), plaintext, SMALL)));
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    // 10 tokens, refilling at 10 a minute: a burst lasting under 6 s can earn at most one more.
    assert.ok(ok >= 10 && ok <= 11, `${ok} succeeded`);
    assert.equal(ok + limited.length, 30);
    assert.ok(limited.every((r) => Number(r.headers.get('retry-after')) >= 1));
    assert.equal(limited[0]?.headers.get('x-ratelimit-limit-requests'), '10');
  });

  it('a budget is never overspent across replicas, and the ledger audits to zero discrepancy', async () => {
    const { row, plaintext } = await keys.create({ name: 'budget', budgetMicroUsd: 5 * PRICE_MICRO });
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => generate(replica(i), plaintext, SMALL)));
    assert.equal(results.filter((r) => r.status === 200).length, 5);
    assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 429 && r.text.includes('insufficient_quota')));
    await audit(row.id, 5);
  });

  it('an idempotent request sent to A and retried on B is answered once and charged once', async () => {
    const { row, plaintext } = await keys.create({ name: 'idem' });
    const headers = { 'idempotency-key': `retry-${randomBytes(4).toString('hex')}` };
    const first = await generate(replica(0), plaintext, SMALL, headers);
    const second = await generate(replica(1), plaintext, SMALL, headers);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.text, first.text);
    const other = await generate(replica(2), plaintext, { ...SMALL, prompt: 'something else' }, headers);
    assert.equal(other.status, 422);
    await audit(row.id, 1);
  });

  it('a URL issued by A downloads from C', async () => {
    const { plaintext } = await keys.create({ name: 'links' });
    const result = await generate(replica(0), plaintext, { ...SMALL, response_format: 'url' });
    const url = (JSON.parse(result.text) as { data: Array<{ url: string }> }).data[0]?.url ?? '';
    assert.ok(url.startsWith(replica(0).baseUrl), url);
    const fromC = await fetch(url.replace(replica(0).baseUrl, replica(2).baseUrl));
    assert.equal(fromC.status, 200);
    const decoded = await decode(Buffer.from(await fromC.arrayBuffer()));
    assert.deepEqual([decoded.format, decoded.width], ['png', 256]);
  });

  it('killing a replica mid-request loses no charged image and leaves the ledger consistent', async () => {
    const { row, plaintext } = await keys.create({ name: 'crash' });
    const victim = replica(1);
    // Slow requests (large, high quality) so the kill lands while they run.
    const slow = { model: 'gpt-image-2', prompt: 'a city skyline at night', size: '3840x2160', quality: 'high', n: 4 };
    const pending = Array.from({ length: 3 }, () => generate(victim, plaintext, slow).catch(() => ({ status: 0, headers: new Headers(), text: '' })));
    const fine = generate(replica(0), plaintext, SMALL);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await victim.kill('SIGKILL');
    const outcomes = await Promise.all(pending);
    assert.equal((await fine).status, 200);
    // Holds of the dead replica's requests are released once past their expiry.
    const later = new Ledger(database.db, 'postgres', () => Date.now() + 3_600_000);
    await later.releaseExpiredHolds();
    const delivered = outcomes.filter((o) => o.status === 200).length;
    const entries = await later.entries(row.id);
    const charges = entries.filter((e) => e.kind === 'charge');
    assert.ok(charges.length >= 1 + delivered);
    await audit(row.id, null);
  });

  /** Σ ledger = committed; every charge has its images recorded; holds are all closed. */
  async function audit(apiKeyId: string, expectedCharges: number | null): Promise<void> {
    const ledger = new Ledger(database.db, 'postgres');
    const entries = await ledger.entries(apiKeyId);
    const sum = entries.reduce((total, e) => total + e.amount_micro_usd, 0);
    const key = await keys.get(apiKeyId);
    assert.equal(key?.committed_micro_usd, sum, 'committed total equals the ledger sum');
    const holds = entries.filter((e) => e.kind === 'hold');
    const releases = new Set(entries.filter((e) => e.kind === 'release').map((e) => e.ref_id));
    assert.ok(
      holds.every((h) => releases.has(h.id)),
      'every hold is closed',
    );
    const charges = entries.filter((e) => e.kind === 'charge');
    if (expectedCharges !== null) assert.equal(charges.length, expectedCharges);
    for (const charge of charges) {
      const images = await database.db.selectFrom('images').select('id').where('request_id', '=', charge.request_id).execute();
      assert.equal(images.length, charge.image_count, `request ${charge.request_id}: charged images are recorded`);
    }
    const chargedImages = charges.reduce((total, c) => total + c.image_count, 0);
    const smallCharges = charges.filter((c) => c.model === 'dall-e-2');
    assert.equal(
      smallCharges.reduce((total, c) => total + c.amount_micro_usd, 0),
      smallCharges.reduce((total, c) => total + c.image_count, 0) * PRICE_MICRO,
      'sum of charges = images delivered × price',
    );
    assert.ok(chargedImages >= smallCharges.length);
  }
});
