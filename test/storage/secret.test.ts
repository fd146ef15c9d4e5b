import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadOrCreateSigningSecret, SIGNING_SECRET_FILE } from '../../src/storage/secret.ts';

describe('loadOrCreateSigningSecret', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'imagegate-secret-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('uses a configured secret of 32 characters or more, and writes no file', async () => {
    const configured = 'x'.repeat(32);
    assert.deepEqual(await loadOrCreateSigningSecret(dataDir, configured), Buffer.from(configured));
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('refuses a configured secret shorter than 32 characters, saying which setting', async () => {
    await assert.rejects(loadOrCreateSigningSecret(dataDir, 'short'), /IMAGEGATE_SIGNING_SECRET.*32/);
    await assert.rejects(loadOrCreateSigningSecret(dataDir, ''), /32/);
  });

  it('creates a private 32-byte secret file on first use and reads it afterwards', async () => {
    const first = await loadOrCreateSigningSecret(dataDir, undefined);
    assert.equal(first.length, 32);
    const filePath = path.join(dataDir, SIGNING_SECRET_FILE);
    assert.match(readFileSync(filePath, 'utf8'), /^[0-9a-f]{64}\n$/);
    if (process.platform !== 'win32') assert.equal(statSync(filePath).mode & 0o777, 0o600);
    assert.deepEqual(await loadOrCreateSigningSecret(dataDir, undefined), first);
    assert.deepEqual(readdirSync(dataDir), [SIGNING_SECRET_FILE]);
  });

  it('creates the data folder when it does not exist yet', async () => {
    const nested = path.join(dataDir, 'a', 'b');
    assert.equal((await loadOrCreateSigningSecret(nested, undefined)).length, 32);
  });

  it('gives every concurrent starter the same secret and leaves no temporary files', async () => {
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSigningSecret(dataDir, undefined)));
    for (const secret of secrets) assert.deepEqual(secret, secrets[0]);
    assert.deepEqual(readdirSync(dataDir), [SIGNING_SECRET_FILE]);
  });

  it('reads an operator-written file with a trailing newline', async () => {
    const hex = 'ab'.repeat(32);
    writeFileSync(path.join(dataDir, SIGNING_SECRET_FILE), `${hex}\r\n`);
    assert.deepEqual(await loadOrCreateSigningSecret(dataDir, undefined), Buffer.from(hex, 'hex'));
  });

  it('refuses a damaged secret file instead of replacing it', async () => {
    const filePath = path.join(dataDir, SIGNING_SECRET_FILE);
    for (const content of ['', 'not hex at all', 'ab'.repeat(31), `${'ab'.repeat(32)}a`]) {
      writeFileSync(filePath, content);
      await assert.rejects(loadOrCreateSigningSecret(dataDir, undefined), /signing secret/);
      assert.equal(readFileSync(filePath, 'utf8'), content);
    }
  });
});
