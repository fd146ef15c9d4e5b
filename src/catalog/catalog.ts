import type { ModelSpec } from './types.ts';

/** The models this gateway serves, looked up by id. Built once at boot. */
export class Catalog {
  readonly #byId: ReadonlyMap<string, ModelSpec>;

  constructor(models: readonly ModelSpec[]) {
    this.#byId = new Map(models.map((model) => [model.id, model]));
  }

  get(id: string): ModelSpec | undefined {
    return this.#byId.get(id);
  }

  all(): readonly ModelSpec[] {
    return [...this.#byId.values()];
  }
}
