import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('cors, metrics and client settings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('default to no CORS, metrics behind a key, and no client settings', () => {
    const config = loadConfig({}, dir);
    assert.deepEqual(config.cors, { origins: [], maxAgeSeconds: 600 });
    assert.deepEqual(config.metrics, { public: false });
    assert.deepEqual(config.client, {});
  });

  it('read origins as a YAML list or a comma-separated variable, and the rest from the environment', () => {
    writeFileSync(path.join(dir, 'imagegate.yaml'), 'cors: { origins: ["https://app.example.com", "http://localhost:5173"] }\n');
    assert.deepEqual(loadConfig({}, dir).cors.origins, ['https://app.example.com', 'http://localhost:5173']);
    writeFileSync(path.join(dir, 'token.txt'), 'a-metrics-token-from-a-file\n');
    const config = loadConfig(
      {
        IMAGEGATE_CORS_ORIGINS: ' https://a.example , https://b.example:8443,',
        IMAGEGATE_METRICS_TOKEN_FILE: path.join(dir, 'token.txt'),
        IMAGEGATE_METRICS_PUBLIC: '1',
        IMAGEGATE_BASE_URL: 'https://images.example.com',
        IMAGEGATE_KEY: 'sk-ig-client',
      },
      dir,
    );
    assert.deepEqual(config.cors.origins, ['https://a.example', 'https://b.example:8443']);
    assert.deepEqual(config.metrics, { token: 'a-metrics-token-from-a-file', public: true });
    assert.deepEqual(config.client, { baseUrl: 'https://images.example.com', key: 'sk-ig-client' });
    rmSync(path.join(dir, 'imagegate.yaml'));
  });

  const refusals: Array<[Record<string, string>, RegExp]> = [
    [{ IMAGEGATE_CORS_ORIGINS: 'https://app.example.com/path' }, /cors\.origins\.0: an origin such as https:\/\/app\.example\.com \(no path\), or \*/],
    [{ IMAGEGATE_CORS_ORIGINS: 'app.example.com' }, /cors\.origins\.0/],
    [{ IMAGEGATE_METRICS_TOKEN: 'short' }, /metrics\.token: must be at least 16 characters/],
    [{ IMAGEGATE_BASE_URL: 'ftp://x' }, /client\.baseUrl/],
  ];
  for (const [env, message] of refusals) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => loadConfig(env, dir),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }
});
