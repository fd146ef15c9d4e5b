import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads imagegate.yaml, with environment variables winning and keys read from files or env', () => {
    writeFileSync(path.join(dir, 'key.txt'), 'sk-from-file\n');
    writeFileSync(
      path.join(dir, 'imagegate.yaml'),
      [
        'server: { port: 9090, publicBaseUrl: https://images.example.com/ }',
        'channels:',
        '  - { id: main, provider: openai, baseUrl: https://api.openai.com/v1, apiKeyFile: ' +
          path.join(dir, 'key.txt') +
          ', models: { gpt-image-1: gpt-image-1 }, priority: 5 }',
        '  - { id: az, provider: azure-openai, baseUrl: https://x.openai.azure.com, apiKeyEnv: AZ_KEY, models: { dall-e-3: d3 }, options: { apiVersion: v1 } }',
        'routing: { fallbackToLocal: true, breaker: { cooldownMs: 1000 } }',
        'prices: { dall-e-3: { kind: per_image, usdPerImage: { standard: { "1024x1024": 0.05 } } } }',
      ].join('\n'),
    );
    const config = loadConfig({ IMAGEGATE_PORT: '7070', AZ_KEY: 'az-secret' }, dir);
    assert.equal(config.server.port, 7070);
    assert.equal(config.server.publicBaseUrl, 'https://images.example.com/');
    assert.deepEqual(
      config.channels.map((c) => [c.id, c.apiKey, c.priority]),
      [
        ['main', 'sk-from-file', 5],
        ['az', 'az-secret', 0],
      ],
    );
    assert.equal(config.routing.fallbackToLocal, true);
    assert.equal(config.routing.breaker.cooldownMs, 1000);
    assert.equal(config.routing.breaker.consecutiveFailures, 0, 'by failure rate only, by default');
    assert.ok(config.prices['dall-e-3'] !== undefined);
  });

  it('fails naming the bad field, never echoing a secret', () => {
    assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: '/nope.yaml' }, dir), /does not exist/);
    assert.throws(
      () => loadConfig({ IMAGEGATE_PORT: 'x' }, '/'),
      (err: unknown) => err instanceof ConfigError && /server\.port/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ IMAGEGATE_SIGNING_SECRET: 'short-secret-value' }, '/'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /storage\.signingSecret/);
        assert.ok(!err.message.includes('short-secret-value'));
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' }, '/'),
      (err: unknown) => {
        assert.match(String(err), /database\.url/);
        assert.ok(!String(err).includes('hunter2'));
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ IMAGEGATE_CHANNELS: '[{"id":"x","provider":"openai","baseUrl":"ftp://h","models":{"a":"b"}}]' }, '/'),
      /channels\.0\.baseUrl/,
    );
    assert.throws(
      () => loadConfig({ IMAGEGATE_CHANNELS: '[{"id":"x","provider":"openai","baseUrl":"https://h","models":{"a":"b"},"apiKeyEnv":"MISSING"}]' }, '/'),
      /MISSING is not set/,
    );
    assert.equal(loadConfig({ IMAGEGATE_S3_BUCKET: 'b', IMAGEGATE_S3_PRESIGNED_LINKS: 'false' }, '/').storage.s3?.presignedLinks, false);
  });
});
