import type { ChannelConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import type { CallContext } from '../../src/providers/types.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';

import { catalog } from './requests.ts';

export { catalog, requestFor } from './requests.ts';

/** A channel as `imagegate.yaml` would declare it, built the way the gateway builds it. */
export function channelFor(config: Partial<ChannelConfig> & Pick<ChannelConfig, 'provider' | 'baseUrl' | 'models'>): {
  routed: RoutedChannel;
  close: () => Promise<void>;
} {
  const full: ChannelConfig = {
    id: config.id ?? `${config.provider}-test`,
    priority: 0,
    weight: 1,
    timeoutMs: 10_000,
    maxConcurrency: 8,
    // Fakes listen on 127.0.0.1, which the download guard refuses unless the channel is local.
    local: true,
    options: {},
    apiKey: 'sk-upstream-test',
    ...config,
  };
  const built = buildChannels([full], PROVIDERS, catalog, { maxDownloadBytes: 20 * 1024 * 1024, downloadTimeoutMs: 5000 });
  const routed = built.channels[0];
  if (routed === undefined) throw new Error('no channel');
  return { routed, close: built.close };
}

export function callContext(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, requestId: 'req_test', logger: createLogger('silent') };
}
