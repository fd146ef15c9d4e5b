import type { ChannelConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import { PollPacer } from '../../src/providers/shared/poll-pacer.ts';
import type { UnboundCall } from '../../src/providers/types.ts';
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

/** One process-wide pacer for the tests, as the gateway has. */
const pacer = new PollPacer();

/** The call the router would make on this channel for a request (its upstream model resolved). */
export function callFor(
  routed: RoutedChannel,
  request: { readonly model: { readonly id: string } },
  signal: AbortSignal = new AbortController().signal,
): UnboundCall {
  const upstreamModel = routed.channel.models[request.model.id] ?? request.model.id;
  return { channel: routed.channel, upstreamModel, signal, requestId: 'req_test', logger: createLogger('silent'), pacer };
}
