import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChannelConfig, ConfigError } from '../../src/config.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import { startGateway } from '../support/gateway.ts';
import { catalog } from '../support/requests.ts';

const DOWNLOADS = { maxDownloadBytes: 1024, downloadTimeoutMs: 1000 };

function channel(config: Partial<ChannelConfig> & Pick<ChannelConfig, 'provider' | 'models'>): ChannelConfig {
  return { id: 'c1', baseUrl: 'https://upstream.example/v1', priority: 0, weight: 1, timeoutMs: 1000, maxConcurrency: 1, local: false, options: {}, ...config };
}

/** What cannot work stops the start, naming the channel and the field, instead of failing on first use. */
describe('channels are checked when the gateway starts', () => {
  const refuses = (config: ChannelConfig, expected: RegExp) =>
    assert.throws(
      () => buildChannels([config], PROVIDERS, catalog, DOWNLOADS),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, expected);
        return true;
      },
    );

  it('refuses an option the provider does not read', () =>
    refuses(
      channel({ provider: 'openai', models: { 'gpt-image-1': 'gpt-image-1' }, options: { organisation: 'org-1' } }),
      /channels\.0 \(c1\)\.options: Unrecognized key/,
    ));

  it('refuses an option of the wrong kind, naming it', () =>
    refuses(
      channel({ provider: 'openai', models: { 'gpt-image-1': 'gpt-image-1' }, options: { streamIdleTimeoutMs: 'soon' } }),
      /channels\.0 \(c1\)\.options\.streamIdleTimeoutMs/,
    ));

  it('refuses a DashScope mode it does not know', () =>
    refuses(channel({ provider: 'dashscope', models: { 'qwen-image': 'qwen-image-plus' }, options: { mode: 'batch' } }), /options\.mode/));

  it('refuses a model the provider cannot serve', () =>
    refuses(
      channel({ provider: 'azure-openai', models: { 'qwen-image': 'qwen' } }),
      /channels\.0 \(c1\)\.models\.qwen-image: the azure-openai provider cannot serve it/,
    ));

  it('refuses a channel without baseUrl for a provider with no public default', () =>
    refuses(channel({ provider: 'azure-openai', baseUrl: undefined, models: { 'dall-e-3': 'dalle3' } }), /channels\.0 \(c1\)\.baseUrl/));

  it('accepts options as YAML gives them (numbers, booleans) and as JSON strings', () => {
    const built = buildChannels(
      [
        channel({ id: 'a', provider: 'dashscope', models: { 'qwen-image': 'qwen-image-plus' }, options: { pollInitialMs: 250, promptExtend: false } }),
        channel({ id: 'b', provider: 'dashscope', models: { 'qwen-image': 'qwen-image-plus' }, options: { pollInitialMs: '250', promptExtend: 'false' } }),
      ],
      PROVIDERS,
      catalog,
      DOWNLOADS,
    );
    assert.equal(built.channels.length, 2);
    void built.close();
  });

  it('stops `serve` (createDeps) with the same message', async () => {
    const channels = [{ id: 'bad', provider: 'azure-openai', baseUrl: 'https://x.example', models: { 'qwen-image': 'q' } }];
    await assert.rejects(
      startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) }),
      (err: unknown) => err instanceof ConfigError && /cannot serve/.test(err.message),
    );
  });
});
