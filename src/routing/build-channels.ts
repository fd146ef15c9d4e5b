import { Agent, type Dispatcher } from 'undici';
import type { Catalog } from '../catalog/index.ts';
import { type ChannelConfig, ConfigError } from '../config.ts';
import { downloadImage } from '../http/download.ts';
import { createGuardedAgent } from '../http/guarded-agent.ts';
import { BodyReads } from '../http/body-reads.ts';
import { channelSecrets } from '../providers/shared/scrub-secrets.ts';
import type { Channel, ChannelHttp, RegisteredProvider } from '../providers/types.ts';
import type { RoutedChannel } from './router.ts';

export interface DownloadSettings {
  readonly maxDownloadBytes: number;
  readonly downloadTimeoutMs: number;
}

/**
 * Upstream bodies in memory at once, process-wide (http/body-reads.ts): from the first byte read
 * until the answer made of them has been sent. A thousand requests held open by a slow upstream
 * may all get their multi-megabyte answers in the same second; the rest wait in the kernel's
 * socket buffers (TCP flow control holds the upstream back), so memory stays bounded by this, not
 * by the number of requests.
 */
const CONCURRENT_BODY_READS = 16;

/**
 * Turns the configured channels into routable ones, refusing at boot what cannot work: an unknown
 * provider, options its schema refuses, a model the catalog does not have or the provider cannot
 * serve. Each channel gets its own connection pool; all share one limit on bodies read at once.
 */
export function buildChannels(
  configs: readonly ChannelConfig[],
  providers: ReadonlyMap<string, RegisteredProvider>,
  catalog: Catalog,
  settings: DownloadSettings,
): { channels: RoutedChannel[]; local: RoutedChannel | null; bodyReads: BodyReads; close: () => Promise<void> } {
  const publicOnly = createGuardedAgent({ connectTimeoutMs: 10_000 });
  const agents: Dispatcher[] = [publicOnly];
  const bodyReads = new BodyReads(CONCURRENT_BODY_READS);
  const ids = new Set<string>();
  const channels = configs.map((config, index): RoutedChannel => {
    const where = `channels.${index} (${config.id})`;
    if (ids.has(config.id)) throw new ConfigError(`${where}: the id '${config.id}' is used twice`);
    ids.add(config.id);
    const registered = providers.get(config.provider);
    if (registered === undefined || config.provider === 'local') {
      const known = [...providers.keys()].filter((id) => id !== 'local').join(', ');
      throw new ConfigError(`${where}.provider: unknown provider '${config.provider}' (known: ${known})`);
    }
    const baseUrl = config.baseUrl ?? registered.defaultBaseUrl;
    if (baseUrl === null) throw new ConfigError(`${where}.baseUrl: the ${config.provider} provider has no public default; give the upstream's URL`);
    const bound = registered.bind(config.options);
    if (!bound.ok) {
      throw new ConfigError(bound.issues.map((issue) => `${where}.options${issue.path === '' ? '' : `.${issue.path}`}: ${issue.message}`).join('; '));
    }
    const models: Record<string, string> = {};
    for (const [modelId, upstreamModel] of Object.entries(config.models)) {
      // An alias in a channel's list stands for the model it names.
      const model = catalog.get(modelId);
      if (model === undefined) throw new ConfigError(`${where}.models: '${modelId}' is not a catalog model`);
      const serves = registered.serves(model);
      if (serves !== true) throw new ConfigError(`${where}.models.${modelId}: the ${config.provider} provider cannot serve it (${serves})`);
      models[model.id] = upstreamModel;
    }
    const dispatcher = new Agent({ connections: config.maxConcurrency * 2, keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
    agents.push(dispatcher);
    const downloads = config.local ? dispatcher : publicOnly;
    const channel: Channel = {
      id: config.id,
      provider: config.provider,
      baseUrl: baseUrl.replace(/\/+$/, ''),
      apiKey: config.apiKey ?? null,
      secrets: channelSecrets({ apiKey: config.apiKey ?? null, baseUrl, options: config.options }),
      models,
      timeoutMs: config.timeoutMs,
      http: channelHttp(dispatcher, downloads, config.local, settings, bodyReads),
    };
    return { channel, provider: bound.provider, priority: config.priority, weight: config.weight, maxConcurrency: config.maxConcurrency };
  });

  const localBound = providers.get('local')?.bind({});
  const local: RoutedChannel | null =
    localBound === undefined || !localBound.ok
      ? null
      : {
          channel: {
            id: 'local',
            provider: 'local',
            baseUrl: '',
            apiKey: null,
            secrets: [],
            models: {},
            timeoutMs: 120_000,
            http: channelHttp(publicOnly, publicOnly, false, settings, bodyReads),
          },
          provider: localBound.provider,
          priority: 0,
          weight: 1,
          // The renderer shares this process's CPU with everything else; a few at a time keep
          // latency fair without idling the sharp thread pool.
          maxConcurrency: 4,
        };

  return { channels, local, bodyReads, close: async () => void (await Promise.all(agents.map((agent) => agent.close()))) };
}

function channelHttp(dispatcher: Dispatcher, downloads: Dispatcher, allowPrivate: boolean, settings: DownloadSettings, bodyReads: BodyReads): ChannelHttp {
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
    acquireBodyRead: (signal) => bodyReads.acquire(signal),
  };
}
