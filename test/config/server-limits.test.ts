import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('server timeouts, connection cap and drain delay settings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('have defaults that bound every request body', () => {
    const { server } = loadConfig({}, dir);
    assert.deepEqual(
      {
        requestTimeoutMs: server.requestTimeoutMs,
        headersTimeoutMs: server.headersTimeoutMs,
        maxConnections: server.maxConnections,
        drainDelayMs: server.drainDelayMs,
      },
      { requestTimeoutMs: 60_000, headersTimeoutMs: 10_000, maxConnections: 4096, drainDelayMs: 5000 },
    );
  });

  it('are read from the environment', () => {
    const { server } = loadConfig(
      { IMAGEGATE_REQUEST_TIMEOUT_MS: '2000', IMAGEGATE_HEADERS_TIMEOUT_MS: '500', IMAGEGATE_MAX_CONNECTIONS: '10', IMAGEGATE_DRAIN_DELAY_MS: '0' },
      dir,
    );
    assert.deepEqual([server.requestTimeoutMs, server.headersTimeoutMs, server.maxConnections, server.drainDelayMs], [2000, 500, 10, 0]);
  });

  it('refuse a drain delay that does not fit in the grace period, and a zero timeout', () => {
    assert.throws(
      () => loadConfig({ IMAGEGATE_DRAIN_DELAY_MS: '30000', IMAGEGATE_SHUTDOWN_GRACE_MS: '30000' }, dir),
      (err: unknown) => err instanceof ConfigError && /drainDelayMs/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ IMAGEGATE_REQUEST_TIMEOUT_MS: '0' }, dir),
      (err: unknown) => err instanceof ConfigError && /requestTimeoutMs/.test(err.message),
    );
  });
});
