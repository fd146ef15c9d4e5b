import type { ModelSpec } from './types.ts';

/** The models this gateway serves, looked up by id or alias. Built once at boot. */
export class Catalog {
  readonly #byId: ReadonlyMap<string, ModelSpec>;
  readonly #aliases: ReadonlyMap<string, string>;

  constructor(models: readonly ModelSpec[], aliases: ReadonlyMap<string, string> = new Map()) {
    this.#byId = new Map(models.map((model) => [model.id, model]));
    this.#aliases = aliases;
  }

  /** The model with this id, or the one this alias names. */
  get(idOrAlias: string): ModelSpec | undefined {
    const model = this.#byId.get(idOrAlias);
    if (model !== undefined) return model;
    const target = this.#aliases.get(idOrAlias);
    return target === undefined ? undefined : this.#byId.get(target);
  }

  all(): readonly ModelSpec[] {
    return [...this.#byId.values()];
  }

  /** Alias name → model id. */
  aliases(): ReadonlyMap<string, string> {
    return this.#aliases;
  }
}
