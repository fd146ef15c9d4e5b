import type { ModelSpec } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import type { Channel, ProviderAdapter } from '../providers/types.ts';

export interface Route {
  readonly adapter: ProviderAdapter;
  readonly channel: Channel;
}

/**
 * Picks the upstream for a model. With no channels configured (demo mode) every model is served by
 * the built-in `local` renderer.
 */
export class Router {
  readonly #providers: ReadonlyMap<string, ProviderAdapter>;
  readonly #localChannel: Channel = { id: 'local', provider: 'local' };

  constructor(providers: ReadonlyMap<string, ProviderAdapter>) {
    this.#providers = providers;
  }

  /** The provider id that serves a model, for `/v1/models` and the startup log. */
  providerFor(model: ModelSpec): string {
    return this.route(model).channel.provider;
  }

  route(model: ModelSpec): Route {
    const adapter = this.#providers.get(this.#localChannel.provider);
    if (adapter === undefined) {
      throw new GatewayError('service_unavailable', `No provider is configured for the model '${model.id}'.`, { param: 'model' });
    }
    return { adapter, channel: this.#localChannel };
  }
}
