import type { BoundProvider, ProviderAdapter, ProviderCall, RegisteredProvider, UnboundCall } from './types.ts';

/**
 * Wraps an adapter for the registry: its options are parsed by its own schema when a channel is
 * built, and every call then carries them, typed, without the router knowing their shape.
 */
export function registerProvider<Options>(adapter: ProviderAdapter<Options>): RegisteredProvider {
  return {
    id: adapter.id,
    defaultBaseUrl: adapter.defaultBaseUrl ?? null,
    serves: (model) => adapter.serves(model),
    bind(rawOptions) {
      const parsed = adapter.optionsSchema.safeParse(rawOptions ?? {});
      if (!parsed.success) {
        return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })) };
      }
      const options = parsed.data;
      const full = (call: UnboundCall): ProviderCall<Options> => ({ ...call, options });
      const { edit, variation } = adapter;
      const provider: BoundProvider = {
        id: adapter.id,
        maxImagesPerCall: (model) => adapter.maxImagesPerCall(model, options),
        generate: async (request, call) => adapter.generate(request, full(call)),
        edit: edit === undefined ? null : async (request, call) => edit(request, full(call)),
        variation: variation === undefined ? null : async (request, call) => variation(request, full(call)),
      };
      return { ok: true, provider };
    },
  };
}
