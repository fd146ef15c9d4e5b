import { Agent, type Dispatcher } from 'undici';
import type { Catalog } from '../catalog/index.ts';
import { type ChannelConfig, ConfigError } from '../config.ts';
import { downloadImage } from '../http/download.ts';
import { createGuardedAgent } from '../http/guarded-agent.ts';
import type { Channel, ChannelHttp, ProviderAdapter } from '../providers/types.ts';
import type { RoutedChannel } from './router.ts';

export interface DownloadSettings {
  readonly maxDownloadBytes: number;
  readonly downloadTimeoutMs: number;
}

/**
 * Turns the configured channels into routable ones, refusing at boot what cannot work: an unknown
 * provider, a model the catalog does not have. Each channel gets its own connection pool.
 */
export function buildChannels(
  configs: readonly ChannelConfig[],
  providers: ReadonlyMap<string, ProviderAdapter>,
  catalog: Catalog,
  settings: DownloadSettings,
): { channels: RoutedChannel[]; local: RoutedChannel | null; close: () => Promise<void> } {
  const publicOnly = createGuardedAgent({ connectTimeoutMs: 10_000 });
  const agents: Dispatcher[] = [publicOnly];
  const ids = new Set<string>();
  const channels = configs.map((config, index) => {
    const where = `channels.${index} (${config.id})`;
    if (ids.has(config.id)) throw new ConfigError(`${where}: the id '${config.id}' is used twice`);
    ids.add(config.id);
    const adapter = providers.get(config.provider);
    if (adapter === undefined || config.provider === 'local') {
      const known = [...providers.keys()].filter((id) => id !== 'local').join(', ');
      throw new ConfigError(`${where}.provider: unknown provider '${config.provider}' (known: ${known})`);
    }
    for (const modelId of Object.keys(config.models)) {
      if (catalog.get(modelId) === undefined) throw new ConfigError(`${where}.models: '${modelId}' is not a catalog model`);
    }
    const dispatcher = new Agent({ connections: config.maxConcurrency * 2, keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
    agents.push(dispatcher);
    const downloads = config.local ? dispatcher : publicOnly;
    const channel: Channel = {
      id: config.id,
      provider: config.provider,
      baseUrl: config.baseUrl.replace(/\/+$/, ''),
      apiKey: config.apiKey ?? null,
      models: config.models,
      timeoutMs: config.timeoutMs,
      options: config.options,
      http: channelHttp(dispatcher, downloads, config.local, settings),
    };
    return { channel, adapter, priority: config.priority, weight: config.weight, maxConcurrency: config.maxConcurrency };
  });

  const localAdapter = providers.get('local');
  const local: RoutedChannel | null =
    localAdapter === undefined
      ? null
      : {
          channel: {
            id: 'local',
            provider: 'local',
            baseUrl: '',
            apiKey: null,
            models: {},
            timeoutMs: 120_000,
            options: {},
            http: channelHttp(publicOnly, publicOnly, false, settings),
          },
          adapter: localAdapter,
          priority: 0,
          weight: 1,
          // The renderer shares this process's CPU with everything else; a few at a time keep
          // latency fair without idling the sharp thread pool.
          maxConcurrency: 4,
        };

  return { channels, local, close: async () => void (await Promise.all(agents.map((agent) => agent.close()))) };
}

function channelHttp(dispatcher: Dispatcher, downloads: Dispatcher, allowPrivate: boolean, settings: DownloadSettings): ChannelHttp {
  return {
    dispatcher,
    download: (url, signal) =>
      downloadImage(url, {
        dispatcher: downloads,
        allowPrivate,
        signal,
        maxBytes: settings.maxDownloadBytes,
        timeoutMs: settings.downloadTimeoutMs,
      }),
  };
}
